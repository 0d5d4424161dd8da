// An origin that answers 500 on /healthz but 200 elsewhere: an `http` check takes it out, a `tcp` check
// (which only proves the port accepts connections) keeps it in. Both pools run side by side in one edge
// over the same two origins, under load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoad } from '../../support/load.ts';
import { cleanupStack, edge, origins, shareOf } from './support.ts';

const defer = cleanupStack();

const INTERVAL = 200;
const RISE = 2;
const FALL = 2;

test('500 on /healthz: out under an http check, kept in by a tcp check', { timeout: 30_000 }, async (t) => {
  const [sick, well] = await origins(defer, ['sick', 'well']);
  const health = `interval: ${INTERVAL}ms, timeout: 300ms, rise: ${RISE}, fall: ${FALL}`;
  const sy = await edge(
    defer,
    `
admin: { listen: 127.0.0.1:0 }
log: { access_log: "off" }
pools:
  by_http:
    backends: [ { address: ${sick.address} }, { address: ${well.address} } ]
    health: { type: http, path: /healthz, expect: 200-399, ${health} }
  by_tcp:
    backends: [ { address: ${sick.address} }, { address: ${well.address} } ]
    health: { type: tcp, ${health} }
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
      - { match: { path_prefix: /http/ }, pool: by_http }
      - { match: { path_prefix: /tcp/ }, pool: by_tcp }
`,
  );
  const since = Date.now();
  const load = startLoad({ origin: sy.base, path: (index) => (index % 2 === 0 ? '/http/x' : '/tcp/x'), clients: 4, pauseMs: 2, maxDurationMs: 20_000 });
  defer(() => load.stop());

  // sick is healthy at first (checks pass), then turns sick: the http check takes it out after fall checks
  await load.until((run) => run.samples.some((sample) => sample.origin === 'sick' && sample.path.startsWith('/http/')), 5_000, 'sick serving /http/ first');
  await sick.setSick(true);
  const sickAt = Date.now();
  const down = await sy.transition('by_http', sick.address, false, since, 5_000);
  t.diagnostic(`http check: sick out ${down.at - sickAt}ms after it began answering 500 (reason ${down.reason})`);
  assert.equal(down.reason, 'status 500');
  // fall checks at most one interval apart, the last within its timeout; two intervals of slack for a loaded
  // CI machine (the exact count of checks is the health unit tests' business)
  assert.ok(down.at - sickAt <= (FALL + 2) * INTERVAL + 300, `out within fall × interval (+timeout): ${down.at - sickAt}ms`);

  // an observation window of several check rounds: the http pool never sends to sick, the tcp pool keeps doing so
  const from = load.samples.length;
  const windowStart = Date.now();
  await load.until(() => Date.now() - windowStart >= 4 * FALL * INTERVAL, 10_000, 'several check rounds');
  // requests routed before the transition may still have been completing: count those sent after it
  const seen = load.samples.slice(from).filter((sample) => sample.start >= windowStart);
  const viaHttp = seen.filter((sample) => sample.path.startsWith('/http/'));
  const viaTcp = seen.filter((sample) => sample.path.startsWith('/tcp/'));
  assert.ok(viaHttp.length > 50 && viaTcp.length > 50, `enough traffic in the window (${viaHttp.length}, ${viaTcp.length})`);
  assert.equal(shareOf(viaHttp, 'sick'), 0, 'the http-checked pool sends nothing to the origin failing /healthz');
  assert.ok(shareOf(viaTcp, 'sick') > 0.3, `the tcp-checked pool keeps sending to it (${shareOf(viaTcp, 'sick')})`);
  assert.ok(seen.every((sample) => sample.status === 200), 'every request succeeds');

  const pools = await sy.pools();
  const state = (pool: string) => pools.find((entry) => entry.name === pool)!.backends.find((backend) => backend.id === sick.address)!;
  assert.equal(state('by_http').state, 'unhealthy');
  assert.equal(state('by_http').health_reason, 'status 500');
  assert.equal(state('by_tcp').state, 'healthy');
  assert.equal(sy.running.lines.some((line) => line.msg === 'backend down' && line.pool === 'by_tcp'), false, 'the tcp check never took anything out');

  // healthy again: back in the http pool after rise passes
  await sick.setSick(false);
  const wellAt = Date.now();
  const up = await sy.transition('by_http', sick.address, true, wellAt, 5_000);
  t.diagnostic(`http check: back ${up.at - wellAt}ms after /healthz answered 200 again (reason ${up.reason})`);
  assert.equal(up.reason, 'status 200');
  assert.ok(up.at - wellAt <= RISE * INTERVAL * 1.1 + 250);

  const summary = await load.stop();
  assert.equal(summary.failures.length, 0, 'no request failed');
  assert.equal(summary.connectionErrors.length, 0);
});
