// The HTTP/2 bridge (handleExchange) follows the same rules as the HTTP/1.1 path: path normalisation
// before routing, traceparent propagated or started, x-switchyard-trace stripped and honoured only with
// the admin token, retries, and onRequestDone called once per exchange.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, bridgeExchange, startResettingOrigin, type TestProxy } from './helpers.ts';
import { startEchoOrigin, refusedPort, type EchoOrigin } from '../../support/origins.ts';
import type { RequestDoneRecord } from '../../../src/l7/index.ts';

const TOKEN = 'bridge-token';
let echo: EchoOrigin;
let proxy: TestProxy;
const done: RequestDoneRecord[] = [];

before(async () => {
  echo = await startEchoOrigin();
  proxy = await startProxy(
    { routes: [{ name: 'api', match: { path_prefix: '/api/' }, pool: 'echo' }, { name: 'rest', match: { path_prefix: '/' }, respond: { status: 204 } }] },
    { echo: { backends: [{ address: echo.address }] } },
    { traceToken: TOKEN, onRequestDone: (record) => done.push({ ...record }) },
  );
});

after(async () => {
  await proxy.stop();
  await echo.close();
});

const header = (headers: string[], name: string): string | undefined => {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
};

test('h2 bridge: the normalised path routes and goes upstream; bad paths get 400', async () => {
  const smuggled = await bridgeExchange(proxy.listener, { path: '/api/../rest' });
  assert.equal(smuggled.status, 204, 'the dot segment cannot reach the /api/ route');
  const decoded = await bridgeExchange(proxy.listener, { path: '/%61pi/./users?q=1' });
  assert.equal(decoded.status, 200);
  assert.equal(JSON.parse(decoded.body).url, '/api/users?q=1');
  for (const path of ['/api/a%2Fb', '/../etc/passwd', '/api/%00']) assert.equal((await bridgeExchange(proxy.listener, { path })).status, 400, path);
});

test('h2 bridge: traceparent continued or started, token stripped, Server-Timing only with the token', async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const continued = await bridgeExchange(proxy.listener, { path: '/api/x', headers: ['traceparent', `00-${traceId}-00f067aa0ba902b7-01`, 'tracestate', 'a=1', 'x-switchyard-trace', TOKEN] });
  const upstream = JSON.parse(continued.body).headers as Record<string, string>;
  assert.match(upstream.traceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  assert.equal(upstream.tracestate, 'a=1');
  assert.equal(upstream['x-switchyard-trace'], undefined);
  assert.match(String(header(continued.headers, 'server-timing')), /^edge_route;desc="api";dur=[\d.]+;start=0, edge_balance;desc="round_robin -> 127\.0\.0\.1:\d+ \(round robin\)"/);
  assert.match(String(header(continued.headers, 'traceresponse')), new RegExp(`^00-${traceId}-`));

  const plain = await bridgeExchange(proxy.listener, { path: '/api/x', headers: ['x-switchyard-trace', 'nope', 'tracestate', 'b=2'] });
  const seen = JSON.parse(plain.body).headers as Record<string, string>;
  assert.match(seen.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(seen.tracestate, undefined);
  assert.equal(seen['x-switchyard-trace'], undefined);
  assert.equal(header(plain.headers, 'server-timing'), undefined);
  assert.equal(header(plain.headers, 'traceresponse'), undefined);
});

test('h2 bridge: onRequestDone once per exchange', async () => {
  const before = done.length;
  await bridgeExchange(proxy.listener, { path: '/api/y' });
  await bridgeExchange(proxy.listener, { path: '/other' });
  assert.deepEqual(done.slice(before).map(({ listener, route, pool, status }) => ({ listener, route, pool, status })), [
    { listener: 'test', route: 'api', pool: 'echo', status: 200 },
    { listener: 'test', route: 'rest', pool: '', status: 204 },
  ]);
});

test('h2 bridge: retries — a reset GET and a refused connect go to another backend; a sent POST is not replayed', async () => {
  const bad = await startResettingOrigin();
  const refused = await refusedPort();
  const retries = { attempts: 2, on: ['connect_error', 'reset'] };
  // fresh listeners: round robin's first pick is the failing backend
  const reset = await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: bad.address }, { address: echo.address }], retries } });
  const unsent = await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: `127.0.0.1:${refused}` }, { address: echo.address }], retries } });
  const post = await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: bad.address }, { address: echo.address }], retries } });
  try {
    const get = await bridgeExchange(reset.listener, { path: '/r' });
    assert.equal(get.status, 200);
    assert.equal(bad.requests(), 1);
    const retried = await bridgeExchange(unsent.listener, { method: 'POST', path: '/p', contentLength: -1 }, ['a=1']);
    assert.equal(retried.status, 200, 'a POST whose connect failed was never sent: retried');
    assert.equal(JSON.parse(retried.body).bodyLength, 3);
    const sent = await bridgeExchange(post.listener, { method: 'POST', path: '/p', contentLength: -1 }, ['a=1']);
    assert.equal(sent.error?.status, 502, 'a sent POST is not replayed');
    assert.equal(bad.requests(), 2);
  } finally {
    await reset.stop();
    await unsent.stop();
    await post.stop();
    await bad.close();
  }
});
