// The access log's `reason`: an edge-made answer says why (no_route, connect_error, no_backend,
// upstream_timeout), a filter's answer says which filter decided, and an upstream's own answer has none —
// on HTTP/1.1 and HTTP/2 clients, to HTTP/1.1 and h2c pools. A request that carries the admin token in
// x-switchyard-trace also gets the reason of an edge-made answer in `x-switchyard-reason`; without the
// token it does not. A real `switchyard start` process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { refusedPort } from '../../support/origins.ts';

const run = promisify(execFile);
let sy: RunningSwitchyard;
let token: string;
const origin = http.createServer((req, res) => {
  if (req.url?.startsWith('/slow')) return setTimeout(() => res.end('late'), 2_000).unref();
  res.end('ok');
});

before(async () => {
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const [dead, deadH2, down] = await Promise.all([refusedPort(), refusedPort(), refusedPort()]);
  const routes = `
      - { match: { path_prefix: /ok }, pool: live }
      - { match: { path_prefix: /slow }, pool: live, timeouts: { upstream_response: 200ms } }
      - { match: { path_prefix: /dead }, pool: dead }
      - { match: { path_prefix: /h2dead }, pool: h2dead }
      - { match: { path_prefix: /down }, pool: down }
      - { match: { path_prefix: /sticky }, pool: live, middleware: [ { headers: { response: { set: { x-a: b } } } } ] }`;
  sy = await runSwitchyard(`
admin: { listen: 127.0.0.1:0 }
pools:
  live: { backends: [ { address: 127.0.0.1:${(origin.address() as AddressInfo).port} } ] }
  dead: { backends: [ { address: 127.0.0.1:${dead} } ] }
  h2dead: { protocol: h2c, backends: [ { address: 127.0.0.1:${deadH2} } ] }
  down:
    backends: [ { address: 127.0.0.1:${down} } ]
    health: { type: tcp, interval: 100ms, timeout: 200ms, fall: 1, rise: 1 }
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:${routes}
  - name: h2
    listen: 127.0.0.1:0
    protocol: h2c
    routes:${routes}
`);
  await sy.waitForLine((line) => line.msg === 'backend down' && line.pool === 'down', 5_000);
  token = (await readFile(path.join(sy.dir, 'data', 'admin.token'), 'utf8')).trim();
});

after(async () => {
  await sy?.stop();
  await new Promise<void>((resolve) => origin.close(() => resolve()));
});

async function reasonOf(listener: 'web' | 'h2', target: string): Promise<{ status: number; reason: unknown }> {
  const port = sy.ready.listeners[listener].port;
  const flag = listener === 'h2' ? '--http2-prior-knowledge' : '--http1.1';
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', flag, `http://127.0.0.1:${port}${target}`]);
  const line = await sy.waitForLine((entry) => entry.log === 'access' && entry.path === target && entry.host === `127.0.0.1:${port}`, 5_000).catch((err: Error) => {
    throw new Error(`${listener} ${target} (answered ${stdout}): ${err.message}; last lines ${JSON.stringify(sy.lines.slice(-2))}`);
  });
  assert.equal(line.status, Number(stdout), `${listener} ${target}: the logged status is the answered one`);
  return { status: Number(stdout), reason: line.reason };
}

for (const listener of ['web', 'h2'] as const) {
  test(`${listener}: edge-made answers carry their reason, upstream answers none`, { timeout: 30_000 }, async () => {
    assert.deepEqual(await reasonOf(listener, '/ok'), { status: 200, reason: undefined });
    assert.deepEqual(await reasonOf(listener, '/nothing-here'), { status: 404, reason: 'no_route' });
    assert.deepEqual(await reasonOf(listener, '/dead'), { status: 502, reason: 'connect_error' });
    assert.deepEqual(await reasonOf(listener, '/down'), { status: 503, reason: 'no_backend' });
    assert.deepEqual(await reasonOf(listener, '/slow'), { status: 504, reason: 'upstream_timeout' });
    const h2dead = await reasonOf(listener, '/h2dead');
    assert.equal(h2dead.status, 502);
    assert.ok(h2dead.reason === 'connect_error' || h2dead.reason === 'bad_gateway', `h2 pool down: ${String(h2dead.reason)}`);
  });
}

/** The status and x-switchyard-reason of an answer, asked with `trace` in x-switchyard-trace. */
async function headerReason(listener: 'web' | 'h2', target: string, trace: string): Promise<[number, string | undefined]> {
  const port = sy.ready.listeners[listener].port;
  const flag = listener === 'h2' ? '--http2-prior-knowledge' : '--http1.1';
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-D', '-', '--max-time', '5', flag, '-H', `x-switchyard-trace: ${trace}`, `http://127.0.0.1:${port}${target}`]);
  const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(stdout)?.[1]);
  return [status, /^x-switchyard-reason: (.*?)\r?$/im.exec(stdout)?.[1]];
}

for (const listener of ['web', 'h2'] as const) {
  test(`${listener}: a traced request's edge-made answer says why in x-switchyard-reason, an untraced one does not`, { timeout: 30_000 }, async () => {
    assert.deepEqual(await headerReason(listener, '/ok', token), [200, undefined]);
    assert.deepEqual(await headerReason(listener, '/nothing-here', token), [404, 'no_route']);
    assert.deepEqual(await headerReason(listener, '/dead', token), [502, 'connect_error']);
    assert.deepEqual(await headerReason(listener, '/down', token), [503, 'no_backend']);
    assert.deepEqual(await headerReason(listener, '/slow', token), [504, 'upstream_timeout']);
    assert.deepEqual(await headerReason(listener, '/nothing-here', `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`), [404, undefined]);
    assert.deepEqual(await headerReason(listener, '/dead', 'x'), [502, undefined]);
  });
}
