// `switchyard explain` and GET /api/explain on a real edge: three routes (host, path, catch-all) and a pool
// of two backends, one down. The answer names the matching route, why the earlier ones did not match, the
// filters, the candidates with their health and the pick; explaining sends nothing upstream and takes no
// round-robin turn; the config alone gives the same routes with health unknown; no token → 401. A weighted
// pool with a drained and a dead backend lists its candidates in the policy's order: the heavier usable
// one first (the pick), the lighter next (a retry's), then the drained and the unhealthy ones, skipped.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cliEntry, node24, runSwitchyard } from '../../support/run-switchyard.ts';
import { refusedPort, startEchoOrigin } from '../../support/origins.ts';

const run = promisify(execFile);
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(node24, [cliEntry, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout: string; stderr: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const config = (live: string, dead: string, port = 0, other = '127.0.0.1:9'): string => `
admin: { listen: 127.0.0.1:0 }
pools:
  ordered:
    balance: weighted_round_robin
    backends:
      - { address: ${live}, weight: 1 }
      - { address: ${other}, weight: 3 }
      - { address: 127.0.0.2:${dead.split(':')[1]}, weight: 5, drain: true }
      - { address: ${dead}, weight: 9 }
    health: { type: tcp, interval: 100ms, timeout: 300ms, rise: 1, fall: 1 }
  api:
    backends: [ { address: ${live} } ]
  files:
    backends: [ { address: ${live} } ]
  app:
    backends: [ { address: ${live} }, { address: ${dead} } ]
    health: { type: tcp, interval: 100ms, timeout: 300ms, rise: 1, fall: 1 }
  busy:
    balance: least_conn
    backends: [ { address: ${live} }, { address: ${other} } ]
listeners:
  - name: web
    listen: 127.0.0.1:${port}
    middleware:
      - headers: { response: { set: { x-edge: switchyard } } }
    routes:
      - name: api-host
        match: { host: api.example.test }
        pool: api
      - name: static
        match: { path_prefix: /static }
        pool: files
      - name: ordered
        match: { path_prefix: /ordered }
        pool: ordered
      - name: busy
        match: { path_prefix: /busy }
        pool: busy
      - name: catch-all
        match: { path_prefix: / }
        pool: app
`;

test('explain names the route, why earlier ones missed, the filters, the candidates with health and the pick', async () => {
  const origin = await startEchoOrigin({ name: 'live' });
  cleanups.push(() => origin.close());
  const other = await startEchoOrigin({ name: 'other' });
  cleanups.push(() => other.close());
  const dead = `127.0.0.1:${await refusedPort()}`;
  const running = await runSwitchyard(config(origin.address, dead, 0, other.address), { args: ['--workers', '1'] });
  cleanups.push(() => running.stop());
  await running.waitForLine((line) => line.msg === 'backend down' && line.backend === dead && line.pool === 'app');
  await running.waitForLine((line) => line.msg === 'backend down' && line.backend === dead && line.pool === 'ordered');
  const url = `http://127.0.0.1:${running.ready.listeners.web.port}/page`;

  // The CLI finds the edge running the config through its run file and asks its admin API.
  const text = await cli(['explain', 'GET', url, '-c', running.configFile]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /listener: web \(http, port \d+; chosen by http on port \d+\)/);
  assert.match(text.stdout, /api-host \(#0\): host mismatch: route wants api\.example\.test, request host is 127\.0\.0\.1/);
  assert.match(text.stdout, /static \(#1\): path mismatch: route wants a path under \/static, request path is \/page/);
  assert.match(text.stdout, /catch-all \(#4\): matches/);
  assert.match(text.stdout, /route: catch-all → proxy to pool app/);
  assert.match(text.stdout, /filters: headers/);
  assert.match(text.stdout, new RegExp(`→ ${origin.address} {2}health healthy, weight 1, in flight 0 {2}\\(choice 1: picked\\)`));
  assert.match(text.stdout, new RegExp(`  ${dead} {2}health unhealthy, weight 1, in flight 0 {2}\\(skipped: unhealthy\\)`));
  assert.match(text.stdout, /policy: each usable backend in turn/);
  assert.match(text.stdout, new RegExp(`pick: ${origin.address}`));

  // The API, with a header that moves the request to the host route.
  const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
  const api = (query: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }) => fetch(`http://127.0.0.1:${running.ready.admin!.port}/api/explain?${query}`, { headers });
  const byHost = await api(new URLSearchParams({ method: 'POST', url, header: 'Host: api.example.test' }).toString());
  assert.equal(byHost.status, 200);
  const explained = (await byHost.json()) as { route: string; routes: { verdict: string }[]; pool: { name: string; pick: string; candidates: { backend: string; health: string }[] } };
  assert.equal(explained.route, 'api-host');
  assert.deepEqual(explained.routes.map((route) => route.verdict), ['matches']);
  assert.equal(explained.pool.name, 'api');
  assert.equal(explained.pool.pick, origin.address);

  const catchAll = (await (await api(new URLSearchParams({ url }).toString())).json()) as { pool: { candidates: { backend: string; health: string }[] } };
  assert.deepEqual(
    catchAll.pool.candidates.map((candidate) => [candidate.backend, candidate.health]),
    [
      [origin.address, 'healthy'],
      [dead, 'unhealthy'],
    ],
  );

  // The policy's order: weighted round robin hands the weight-3 backend the next turn, then the weight-1
  // one; the drained (weight 5) and the dead (weight 9) ones come last, in the pool's order, unranked.
  const ordered = (await (await api(new URLSearchParams({ url: url.replace('/page', '/ordered') }).toString())).json()) as { pool: { policy: string; pick: string; candidates: { backend: string; health: string; weight: number; rank: number | null }[] } };
  assert.deepEqual(
    ordered.pool.candidates.map((candidate) => [candidate.backend, candidate.health, candidate.weight, candidate.rank]),
    [
      [other.address, 'healthy', 3, 1],
      [origin.address, 'healthy', 1, 2],
      [`127.0.0.2:${dead.split(':')[1]}`, 'draining', 5, null],
      [dead, 'unhealthy', 9, null],
    ],
  );
  assert.equal(ordered.pool.pick, other.address);
  assert.match(ordered.pool.policy, /smooth weighted round robin/);
  const orderedText = await cli(['explain', 'GET', url.replace('/page', '/ordered'), '-c', running.configFile]);
  assert.match(orderedText.stdout, /candidates, in the policy's order:\n {2}→ \S+ {2}health healthy, weight 3, in flight 0 {2}\(choice 1: picked\)\n {4}\S+ {2}health healthy, weight 1, in flight 0 {2}\(choice 2\)\n {4}\S+ {2}health draining, weight 5, in flight 0 {2}\(skipped: draining\)/);

  // least_conn: a backend holding a request (the worker's in-flight count, as the admin API sums it) comes
  // after the idle one, and the idle one is the pick
  const held = fetch(url.replace('/page', '/busy/slow?delay=3000')).then((response) => response.text());
  let busy: { pool: { pick: string; candidates: { backend: string; inflight: number; rank: number | null }[] } } | undefined;
  for (let i = 0; i < 100; i++) {
    busy = (await (await api(new URLSearchParams({ url: url.replace('/page', '/busy/x') }).toString())).json()) as typeof busy;
    if (busy!.pool.candidates.some((candidate) => candidate.inflight === 1)) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.deepEqual(
    busy!.pool.candidates.map((candidate) => [candidate.inflight, candidate.rank]),
    [
      [0, 1],
      [1, 2],
    ],
    JSON.stringify(busy),
  );
  assert.equal(busy!.pool.pick, busy!.pool.candidates[0].backend);
  await held;

  // Without the token: 401, and nothing was ever sent upstream by explaining.
  assert.equal((await api(new URLSearchParams({ url }).toString(), {})).status, 401);
  assert.equal(origin.requests() + other.requests(), 1, 'only the held request went upstream');

  // The config alone (no edge runs this copy): the same verdicts, health unknown.
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-explain-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const offline = path.join(dir, 'edge.yaml');
  await writeFile(offline, config(origin.address, dead, 8080));
  const fromFile = await cli(['explain', 'GET', 'http://localhost:8080/static/app.js', '-c', offline]);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.match(fromFile.stdout, /no running edge: health unknown/);
  assert.match(fromFile.stdout, /api-host \(#0\): host mismatch: route wants api\.example\.test, request host is localhost/);
  assert.match(fromFile.stdout, /route: static → proxy to pool files/);
  const json = await cli(['explain', 'GET', 'http://localhost:8080/x', '-c', offline, '--json']);
  const fromConfig = JSON.parse(json.stdout) as { pool: { candidates: { health: string; inflight: number | null }[]; pick: string } };
  assert.deepEqual(
    fromConfig.pool.candidates.map((candidate) => [candidate.health, candidate.inflight]),
    [
      ['unknown', null],
      ['unknown', null],
    ],
  );
  assert.equal(fromConfig.pool.pick, origin.address);

  // No listener on the URL's port: exit 1 and the listeners named.
  const nowhere = await cli(['explain', 'GET', 'http://localhost:1/', '-c', offline]);
  assert.equal(nowhere.code, 1);
  assert.match(nowhere.stdout, /problem: no http\/h2c listener on port 1: give --listener NAME \(listeners: web \(http, port 8080\)\)/);
});
