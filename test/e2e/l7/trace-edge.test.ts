// `switchyard trace URL --admin-token T` against a real `switchyard start` in front of an application
// that reports its database time: one waterfall with the client's phases, the edge's (route, balance,
// connect, upstream) and the application's `db` entry, ordered.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { runSwitchyard, node24, cliEntry, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

interface TraceJson {
  traceId: string;
  traceIdEchoed: boolean;
  response: { status: number; headers: [string, string][] };
  phases: { name: string; startMs: number; durationMs: number }[];
  serverTiming: { name: string; durationMs?: number; startMs?: number; description?: string }[];
}

function traceCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(node24, [cliEntry, 'trace', ...args], { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

// Needs the supervisor to pass the admin token to the HTTP listeners (HttpListenerDeps.traceToken).
test('switchyard trace against switchyard start: client, edge and application phases in one ordered waterfall', { timeout: 30_000 }, async () => {
  const origin = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(200, { 'server-timing': 'db;dur=12', 'content-type': 'text/plain', 'content-length': 3 }).end('ok\n'), 15));
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => (origin.closeAllConnections(), origin.close(() => resolve()))));
  const address = `127.0.0.1:${(origin.address() as AddressInfo).port}`;
  const running: RunningSwitchyard = await runSwitchyard(`
admin: { listen: 127.0.0.1:0 }
log: { access_log: stdout }
pools:
  app:
    balance: round_robin
    backends: [ { address: ${address} } ]
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
      - { name: app, match: { path_prefix: / }, pool: app }
`);
  cleanups.push(() => running.stop());
  const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
  const url = running.url('web', '/');

  const result = JSON.parse(await traceCli([url, '--admin-token', token, '--json'])) as TraceJson;
  assert.equal(result.response.status, 200);
  assert.equal(result.traceIdEchoed, true, 'the edge echoes the trace id (traceresponse)');
  const names = result.serverTiming.map((entry) => entry.name);
  // the application's header comes first (relayed as it was), the edge's is added after it
  assert.deepEqual(names, ['db', 'edge_route', 'edge_balance', 'edge_connect', 'edge_upstream']);
  const edge = result.serverTiming.filter((entry) => entry.name.startsWith('edge_'));
  assert.deepEqual(edge.map((entry) => entry.name), ['edge_route', 'edge_balance', 'edge_connect', 'edge_upstream']);
  assert.match(edge[0].description ?? '', /^app$/);
  assert.match(edge[1].description ?? '', new RegExp(`^round_robin -> ${address.replace(/\./g, '\\.')} \\(round robin\\)$`));
  // ordered: each edge phase starts where (or after) the previous one did, and all fit inside the client's wait
  for (let i = 1; i < edge.length; i++) assert.ok(edge[i].startMs! >= edge[i - 1].startMs!, `${edge[i].name} (${edge[i].startMs}) after ${edge[i - 1].name} (${edge[i - 1].startMs})`);
  // The edge counts from the request's first byte, which can reach it before the client's write callback
  // marks the request sent: the edge's phases fit between the start of sending and the first response byte.
  const request = result.phases.find((phase) => phase.name === 'request')!;
  const wait = result.phases.find((phase) => phase.name === 'wait')!;
  const upstream = edge[3];
  const clientWindow = wait.startMs + wait.durationMs - request.startMs;
  assert.ok(upstream.startMs! + upstream.durationMs! <= clientWindow + 1, `the edge phases (${upstream.startMs! + upstream.durationMs!} ms) fit in the client's request and wait (${clientWindow} ms)`);
  const db = result.serverTiming.find((entry) => entry.name === 'db')!;
  assert.equal(db.durationMs, 12);
  assert.ok(upstream.durationMs! >= 12, 'the application (and its database) ran inside the edge\'s upstream wait');
  // the client-side phases themselves are ordered
  for (let i = 1; i < result.phases.length; i++) assert.ok(result.phases[i].startMs >= result.phases[i - 1].startMs);

  // the human waterfall shows the edge rows under the wait
  const text = await traceCli([url, '--admin-token', token]);
  for (const name of ['edge_route', 'edge_balance', 'edge_connect', 'edge_upstream', 'db']) assert.match(text, new RegExp(name));

  // without the token: no edge phases
  const plain = JSON.parse(await traceCli([url, '--json'])) as TraceJson;
  assert.deepEqual(plain.serverTiming.map((entry) => entry.name), ['db']);
  // the access log line of the traced request carries its trace id
  await running.waitForLine((line) => line.log === 'access' && line.trace_id === result.traceId, 5_000);
});
