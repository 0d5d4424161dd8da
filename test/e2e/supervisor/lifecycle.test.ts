// The edge as a real process: start, serve, reload (good and bad), admin API, graceful SIGTERM, workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runSwitchyard, cliEntry, node24, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import type { EchoOrigin } from '../../support/origins.ts';
import { supervisorKit, originOf } from './helpers.ts';
import { lastFreePort, retryOnAddressInUse } from '../../support/ports.ts';

const run = promisify(execFile);
const kit = supervisorKit();
const { defer, origin } = kit;
const edge = (yaml: string, args: string[] = []): Promise<RunningSwitchyard> => kit.edge(yaml, { args });

const config = (a: EchoOrigin, b: EchoOrigin, extra = ''): string => `
admin: { listen: 127.0.0.1:0 }
pools:
  app:
    backends: [ { address: ${a.address} }, { address: ${b.address} } ]
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
${extra}      - match: { path_prefix: / }
        pool: app
`;

async function adminToken(running: RunningSwitchyard): Promise<string> {
  return (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
}

test('check explains an invalid config with file, line, field and what was expected', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-check-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'check-invalid.yaml');
  await writeFile(file, 'pools:\n  app:\n    balance: fastest\n    backends: [ { address: 127.0.0.1:1 } ]\nlisteners: []\nbogus: 1\n');
  const result = await run(node24, [cliEntry, 'check', file]).then(
    () => assert.fail('check accepted an invalid config'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(result.code, 1);
  assert.match(result.stderr, /check-invalid\.yaml:3:\d+: pools\.app\.balance: expected one of "round_robin".*got string "fastest"/);
  assert.match(result.stderr, /:6:1: bogus: unknown key/);
});

test('serves, balances round robin, and the admin API needs the token', async () => {
  const a = await origin('a');
  const b = await origin('b');
  const running = await edge(config(a, b));
  const seen = [];
  for (let index = 0; index < 4; index++) seen.push(await originOf(running.url('web', '/')));
  assert.deepEqual(seen.sort(), ['a', 'a', 'b', 'b']);

  const admin = `http://127.0.0.1:${running.ready.admin!.port}`;
  assert.equal((await fetch(`${admin}/api/pools`)).status, 401);
  assert.equal((await fetch(`${admin}/healthz`)).status, 200);
  const token = await adminToken(running);
  const pools = (await (await fetch(`${admin}/api/pools`, { headers: { authorization: `Bearer ${token}` } })).json()) as { name: string; backends: { id: string; state: string }[] }[];
  assert.deepEqual(pools[0].backends.map((backend) => backend.state), ['healthy', 'healthy']);

  // Drain b through the admin API: only a gets new requests; enable brings b back.
  const drain = await fetch(`${admin}/api/pools/app/backends/${b.address}/drain`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(drain.status, 200);
  for (let index = 0; index < 4; index++) assert.equal(await originOf(running.url('web', '/')), 'a');
  await fetch(`${admin}/api/pools/app/backends/${b.address}/enable`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  const after = new Set<string>();
  for (let index = 0; index < 4; index++) after.add(await originOf(running.url('web', '/')));
  assert.deepEqual([...after].sort(), ['a', 'b']);

  const metrics = await (await fetch(`${admin}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  assert.match(metrics, /switchyard_pool_backend_usable\{pool="app",backend="127\.0\.0\.1:\d+",state="healthy"\} 1/);
  // every request above was counted, by listener, route and status class
  const counted = /switchyard_http_requests_total\{listener="web",route="#0",pool="app",code="2xx"\} (\d+)/.exec(metrics);
  assert.ok(counted, 'request counter present');
  assert.equal(Number(counted[1]), 12);
  assert.match(metrics, /switchyard_http_request_duration_seconds_count\{listener="web",route="#0"\} 12/);
});

test('reload applies a good config on the same sockets and refuses a bad one, keeping the old', async () => {
  const a = await origin('a');
  const b = await origin('b');
  const running = await edge(config(a, b));
  const before = running.url('web', '/');
  assert.equal((await fetch(running.url('web', '/fixed'))).status, 200);

  // Good reload: a fixed-response route in front; same listener address.
  await writeFile(running.configFile, config(a, b, `      - match: { path: /fixed }\n        respond: { status: 418, body: "short and stout" }\n`));
  const good = await run(node24, [cliEntry, 'reload', '-c', running.configFile]);
  assert.match(good.stdout, /reloaded/);
  const fixed = await fetch(running.url('web', '/fixed'));
  assert.equal(fixed.status, 418);
  assert.equal(await fixed.text(), 'short and stout');
  assert.equal(running.url('web', '/'), before);

  // Bad reload: refused with the reason, exit 1, and the running config keeps serving.
  await writeFile(running.configFile, config(a, b).replace('pool: app', 'pool: missing'));
  const bad = await run(node24, [cliEntry, 'reload', '-c', running.configFile]).then(
    () => assert.fail('reload accepted an invalid config'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /routes\[0\]\.pool: expected a pool name \(app\), got missing/);
  assert.equal((await fetch(running.url('web', '/fixed'))).status, 418);

  // SIGHUP reloads too (here back to the plain config).
  await writeFile(running.configFile, config(a, b));
  // the reload -c above already logged a 'reloaded' line: wait for the one this SIGHUP causes
  const earlier = new Set(running.lines);
  running.process.kill('SIGHUP');
  await running.waitForLine((line) => line.msg === 'reloaded' && !earlier.has(line));
  assert.equal((await fetch(running.url('web', '/fixed'))).status, 200);
});

test('SIGTERM lets an in-flight request finish, reports unhealthy, then exits 0', async () => {
  const a = await origin('a');
  const running = await edge(config(a, a).replace(/backends: .*/, `backends: [ { address: ${a.address} } ]`));
  const slow = fetch(running.url('web', '/?delay=700')).then(async (response) => ({ status: response.status, body: await response.text() }));
  // Wait until the request is in flight at the origin before signalling.
  const deadline = Date.now() + 5000;
  while (a.requests() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  running.process.kill('SIGTERM');
  await running.waitForLine((line) => line.msg === 'shutting down: draining');
  const admin = `http://127.0.0.1:${running.ready.admin!.port}`;
  const health = await fetch(`${admin}/healthz`).catch(() => undefined);
  if (health) assert.equal(health.status, 503);
  const result = await slow;
  assert.equal(result.status, 200);
  assert.match(result.body, /"origin":"a"/);
  const code = await new Promise<number | null>((resolve) => running.process.once('exit', resolve));
  assert.equal(code, 0);
});

test('workers: 2 runs two processes that share the listener', async () => {
  const a = await origin('a');
  const running = await edge(config(a, a).replace(/backends: .*/, `backends: [ { address: ${a.address} } ]`), ['--workers', '2']);
  assert.equal(running.ready.listeners.web.port > 0, true);
  const pids = new Set<unknown>();
  for (let round = 0; round < 40 && pids.size < 2; round++) {
    const responses = await Promise.all(Array.from({ length: 8 }, () => fetch(running.url('web', '/'), { headers: { connection: 'close' } }).then((response) => response.text())));
    assert.equal(responses.length, 8);
    await running.waitForLine((line) => line.log === 'access' && !pids.has(line.pid), 500).then((line) => pids.add(line.pid)).catch(() => undefined);
  }
  assert.equal(pids.size, 2, 'both workers answered requests');
});

test('a second edge on a port that one already serves is refused, not silently sharing it', async () => {
  const a = await origin('a');
  // the first edge must get a fixed port; if another process takes it first, pick another
  const { port, fixed, first } = await retryOnAddressInUse(async () => {
    const port = await lastFreePort();
    const fixed = config(a, a).replace(/backends: .*/, `backends: [ { address: ${a.address} } ]`).replace('listen: 127.0.0.1:0\n    routes', `listen: 127.0.0.1:${port}\n    routes`);
    return { port, fixed, first: await edge(fixed) };
  });
  assert.equal(first.ready.listeners.web.port, port);
  const second = await runSwitchyard(fixed).then(
    (running) => {
      defer(() => running.stop());
      return assert.fail('the second edge started');
    },
    (err: Error) => err,
  );
  assert.match(second.message, new RegExp(`listener web: 127\\.0\\.0\\.1:${port} is already in use by another process`));
  assert.equal(await originOf(first.url('web', '/')), 'a');
});
