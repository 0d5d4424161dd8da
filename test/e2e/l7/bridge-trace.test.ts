// The HTTP/2 bridge (handleExchange) follows the same rules as the HTTP/1.1 path: path normalisation
// before routing, traceparent propagated or started, x-switchyard-trace stripped and honoured only with
// the admin token, and onRequestDone called once per exchange.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, bridgeExchange, type TestProxy } from './helpers.ts';
import { startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';
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
