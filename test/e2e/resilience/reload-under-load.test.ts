// 10 reloads under steady load, alternating `switchyard reload -c` and SIGHUP, several of them changing
// the pool (a backend added, removed, weights and policy changed): no request fails, no connection is
// reset, and each change shows in where the requests go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { startLoad } from '../../support/load.ts';
import { cliEntry, node24 } from '../../support/run-switchyard.ts';
import type { OriginProcess } from '../../support/origin-process.ts';
import { cleanupStack, describeFailures, edge, origins } from './support.ts';

const run = promisify(execFile);
const defer = cleanupStack();

interface Shape {
  balance?: string;
  /** origin name → weight */
  backends: Record<string, number>;
  interval?: number;
  fixed?: boolean;
}

/** The ten reloads, in order; `expect` names the origins that must answer after it (and no others). */
const RELOADS: { why: string; shape: Shape }[] = [
  { why: 'add backend d', shape: { backends: { a: 1, b: 1, c: 1, d: 1 } } },
  { why: 'weights change', shape: { balance: 'weighted_round_robin', backends: { a: 3, b: 1, c: 1, d: 1 } } },
  { why: 'remove backend d', shape: { balance: 'weighted_round_robin', backends: { a: 3, b: 1, c: 1 } } },
  { why: 'a route added, pools unchanged', shape: { balance: 'weighted_round_robin', backends: { a: 3, b: 1, c: 1 }, fixed: true } },
  { why: 'remove c, add d', shape: { backends: { a: 1, b: 1, d: 1 } } },
  { why: 'health interval changes', shape: { backends: { a: 1, b: 1, d: 1 }, interval: 300 } },
  { why: 'least_conn', shape: { balance: 'least_conn', backends: { a: 1, b: 1, d: 1 } } },
  { why: 'add c back with weight 2', shape: { balance: 'weighted_round_robin', backends: { a: 1, b: 1, c: 2, d: 1 } } },
  { why: 'remove a and d', shape: { backends: { b: 1, c: 1 } } },
  { why: 'back to the start', shape: { backends: { a: 1, b: 1, c: 1 } } },
];

test('10 reloads under load: zero failed requests, zero reset connections', { timeout: 60_000 }, async (t) => {
  const started = await origins(defer, ['a', 'b', 'c', 'd']);
  const byName = new Map<string, OriginProcess>(started.map((origin) => [origin.name, origin]));
  const config = (shape: Shape): string => `
admin: { listen: 127.0.0.1:0 }
log: { access_log: "off" }
pools:
  app:
    balance: ${shape.balance ?? 'round_robin'}
    backends:
${Object.entries(shape.backends)
  .map(([name, weight]) => `      - { address: ${byName.get(name)!.address}, weight: ${weight} }`)
  .join('\n')}
    health: { type: http, path: /healthz, interval: ${shape.interval ?? 200}ms, timeout: 300ms, rise: 2, fall: 2 }
    drain_timeout: 5s
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
${shape.fixed ? '      - { match: { path: /fixed }, respond: { status: 200, body: fixed } }\n' : ''}      - { match: { path_prefix: / }, pool: app }
`;
  const sy = await edge(defer, config({ backends: { a: 1, b: 1, c: 1 } }));
  const load = startLoad({ origin: sy.base, path: '/work', clients: 6, pauseMs: 2, maxDurationMs: 45_000, timeoutMs: 3_000 });
  defer(() => load.stop());
  await load.more(100);
  const since = Date.now();

  for (const [index, { why, shape }] of RELOADS.entries()) {
    await writeFile(sy.running.configFile, config(shape));
    const began = Date.now();
    if (index % 2 === 0) {
      const result = await run(node24, [cliEntry, 'reload', '-c', sy.running.configFile], { timeout: 15_000 });
      assert.match(result.stdout, /reloaded/, `reload ${index + 1} (${why})`);
    } else {
      const before = sy.running.lines.length;
      sy.running.process.kill('SIGHUP');
      await sy.running.waitForLine((line) => line.msg === 'reloaded' && sy.running.lines.indexOf(line) >= before, 10_000);
    }
    const tookMs = Date.now() - began;
    // after the swap, only the configured origins answer new requests
    const expected = new Set(Object.keys(shape.backends));
    const from = load.samples.length;
    await load.until(
      (current) => {
        const seen = new Set(current.samples.slice(from).map((sample) => sample.origin));
        return [...expected].every((name) => seen.has(name));
      },
      5_000,
      `every configured origin answering after reload ${index + 1} (${why})`,
    );
    const settled = load.samples.length;
    const settledAt = Date.now();
    await load.more(60);
    const strays = load.samples.slice(settled).filter((sample) => sample.start >= settledAt && !expected.has(sample.origin));
    assert.deepEqual(strays.map((sample) => sample.origin), [], `after reload ${index + 1} (${why}) only ${[...expected]} answer`);
    t.diagnostic(`reload ${index + 1} (${index % 2 === 0 ? 'switchyard reload' : 'SIGHUP'}, ${why}): ${tookMs}ms`);
  }

  const summary = await load.stop();
  t.diagnostic(`load: ${summary.requests} requests over ${summary.elapsedMs}ms on ${summary.connections} connections`);
  assert.equal(summary.failures.length, 0, `failed requests: ${describeFailures(summary.failures, since)}`);
  assert.equal(summary.connectionErrors.length, 0, `connection errors: ${JSON.stringify(summary.connectionErrors.slice(0, 5))}`);
  assert.equal(summary.connections, 6, 'the clients kept their keep-alive connections across all reloads');
});
