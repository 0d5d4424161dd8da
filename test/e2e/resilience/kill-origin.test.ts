// kill -9 one of three origins under steady load: the client sees no failure, the health check takes it
// out within fall × interval (+ timeout), and after a restart it is back within rise × interval and ramps
// up under slow start. Prints the measured detection and recovery times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoad } from '../../support/load.ts';
import { cleanupStack, describeFailures, edge, origins, shareOf } from './support.ts';

const defer = cleanupStack();

const INTERVAL = 200;
const TIMEOUT = 300;
const RISE = 2;
const FALL = 2;
const SLOW_START = 3000;
/** The checker's ±10% jitter, plus scheduling and log-pipe latency on a busy 2-core machine. */
const JITTER = 1.1;
const SLACK = 250;

test('kill -9 an origin under load: no client failure, detected, restarted, ramped', { timeout: 40_000 }, async (t) => {
  const [a, b, c] = await origins(defer, ['a', 'b', 'c']);
  const sy = await edge(
    defer,
    `
admin: { listen: 127.0.0.1:0 }
log: { access_log: "off" }
pools:
  app:
    backends: [ { address: ${a.address} }, { address: ${b.address} }, { address: ${c.address} } ]
    health: { type: http, path: /healthz, interval: ${INTERVAL}ms, timeout: ${TIMEOUT}ms, rise: ${RISE}, fall: ${FALL} }
    slow_start: ${SLOW_START}ms
    retries: { attempts: 2, on: [connect_error, reset], budget_percent: 50 }
listeners:
  - name: web
    listen: 127.0.0.1:0
    timeouts: { upstream_connect: 500ms, upstream_response: 2s }
    routes:
      - { match: { path_prefix: / }, pool: app }
`,
  );
  const load = startLoad({ origin: sy.base, path: '/work', clients: 6, pauseMs: 2, maxDurationMs: 30_000, timeoutMs: 3_000 });
  defer(() => load.stop());
  // steady state: all three origins answer
  await load.until((run) => new Set(run.samples.slice(-60).map((sample) => sample.origin)).size === 3, 5_000, 'all three origins answering');

  const killedAt = Date.now();
  await c.kill();
  const down = await sy.transition('app', c.address, false, killedAt, 5_000);
  const detection = down.at - killedAt;
  const limitDown = FALL * INTERVAL * JITTER + TIMEOUT + SLACK;
  t.diagnostic(`detection: ${detection}ms after kill -9 (reason ${down.reason}; limit fall×interval(+jitter)+timeout = ${limitDown - SLACK}ms)`);
  assert.ok(detection <= limitDown, `marked down ${detection}ms after the kill, limit ${limitDown}ms`);
  assert.equal((await sy.backend('app', c.address)).state, 'unhealthy');
  assert.match(down.reason, /connection refused|connection reset/);

  // while c is down, traffic goes to a and b only
  const whileDown = load.samples.length;
  const seenDownAt = Date.now();
  await load.more(200);
  assert.ok(
    load.samples.slice(whileDown).every((sample) => sample.start < seenDownAt || sample.origin !== 'c'),
    'no request reaches the dead origin once it is marked down',
  );

  await c.restart();
  // from the moment it listens again (a fresh node process takes a few hundred ms to start)
  const restartedAt = Date.now();
  const up = await sy.transition('app', c.address, true, restartedAt, 5_000);
  const recovery = up.at - restartedAt;
  const limitUp = RISE * INTERVAL * JITTER + SLACK;
  t.diagnostic(`recovery: ${recovery}ms after restart (limit rise×interval(+jitter) = ${limitUp - SLACK}ms)`);
  assert.ok(recovery <= limitUp, `back ${recovery}ms after the restart, limit ${limitUp}ms`);

  // slow start: c's share of requests grows over the window (10% of its weight at first, all at the end)
  const upAt = up.at;
  await load.until((run) => run.samples.length > 0 && run.samples[run.samples.length - 1].start >= upAt + SLOW_START + 600, SLOW_START + 5_000, 'the slow-start window to pass');
  const window = (from: number, to: number) => load.samples.filter((sample) => sample.start >= upAt + from && sample.start < upAt + to);
  const early = shareOf(window(0, SLOW_START / 3), 'c');
  const late = shareOf(window((2 * SLOW_START) / 3, SLOW_START), 'c');
  const after = shareOf(window(SLOW_START + 100, SLOW_START + 600), 'c');
  t.diagnostic(`slow start: c's share ${(early * 100).toFixed(1)}% in the first third, ${(late * 100).toFixed(1)}% in the last third, ${(after * 100).toFixed(1)}% after the window`);
  assert.ok(early > 0, 'c gets some requests right after it is back');
  assert.ok(early < 0.2, `c's early share ${early} is well under its full third`);
  assert.ok(late > early + 0.08, `c's share grows over the window (${early} → ${late})`);
  assert.ok(after > 0.25, `c takes about a third after the window (${after})`);

  const summary = await load.stop();
  t.diagnostic(`load: ${summary.requests} requests over ${summary.elapsedMs}ms, ${summary.failures.length} failed, ${summary.connectionErrors.length} connection errors`);

  // needs: retries (issue 4 item 3) — requests in flight on, or connecting to, the killed origin must be
  // retried on another backend; today they surface to the client as 502.
  await t.test('zero requests fail as seen by the client', () => {
    assert.equal(summary.failures.length, 0, `failed requests: ${describeFailures(summary.failures, killedAt)}`);
    assert.equal(summary.connectionErrors.length, 0, `connection errors: ${JSON.stringify(summary.connectionErrors.slice(0, 5))}`);
  });
});
