// handleExchange: the path src/h2 uses. A tiny codec stand-in feeds a parsed request and records what
// L7 answers; the router, pools, upstream connections and origin are all real.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeExchange, startProxy, type TestProxy } from './helpers.ts';
import { startEchoOrigin, startGarbageOrigin, type EchoOrigin, type Origin } from '../../support/origins.ts';

let echo: EchoOrigin;
let garbage: Origin;
let proxy: TestProxy;

before(async () => {
  echo = await startEchoOrigin();
  garbage = await startGarbageOrigin();
  proxy = await startProxy(
    {
      routes: [
        { match: { path: '/fixed' }, respond: { status: 201, body: 'made' } },
        { match: { path_prefix: '/garbage' }, pool: 'garbage' },
        { match: { path_prefix: '/api' }, pool: 'echo', strip_prefix: true },
      ],
    },
    { echo: { backends: [{ address: echo.address }] }, garbage: { backends: [{ address: garbage.address }] } },
  );
});

after(async () => {
  await proxy.stop();
  await echo.close();
  await garbage.close();
});

const exchange = (request: Parameters<typeof bridgeExchange>[1], body?: string[]): ReturnType<typeof bridgeExchange> => bridgeExchange(proxy.listener, request, body);

test('proxies through the router with strip_prefix, forwarded headers and a streamed body', async () => {
  const answer = await exchange({ method: 'POST', path: '/api/items?x=1', headers: ['x-test', 'yes', 'connection', 'bad'] }, ['hello ', 'world']);
  assert.equal(answer.status, 200);
  const echoed = JSON.parse(answer.body);
  assert.equal(echoed.url, '/items?x=1');
  assert.equal(echoed.bodyLength, 11);
  assert.equal(echoed.headers['x-test'], 'yes');
  assert.equal(echoed.headers.connection, undefined);
  assert.equal(echoed.headers['x-forwarded-proto'], 'https');
  assert.equal(echoed.headers.host, 'site.test');
  assert.ok(!answer.headers.includes('connection'));
  // the same line as the HTTP/1.1 path's (built by access-line.ts), with "protocol":"h2" and no headers_ms
  const line = proxy.accessLog.at(-1)!;
  assert.equal(line.protocol, 'h2');
  assert.equal(line.method, 'POST');
  assert.equal(line.path, '/api/items');
  assert.equal(line.status, 200);
  assert.equal(line.pool, 'echo');
  assert.equal(line.bytes_in, 11);
  assert.equal(typeof line.total_ms, 'number');
  assert.equal(line.headers_ms, undefined);
});

test('fixed responses, 404 and upstream garbage (502)', async () => {
  const fixed = await exchange({ path: '/fixed' });
  assert.equal(fixed.status, 201);
  assert.equal(fixed.body, 'made');
  assert.equal((await exchange({ path: '/nothing' })).status, 404);
  const bad = await exchange({ path: '/garbage' });
  assert.equal(bad.error?.status, 502);
});
