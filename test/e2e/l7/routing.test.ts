// Routing end to end: each match kind, first match wins, strip prefix, redirect, fixed response, 404.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, rawExchange, headerOf, type TestProxy } from './helpers.ts';
import { startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';

let a: EchoOrigin;
let b: EchoOrigin;
let proxy: TestProxy;

before(async () => {
  a = await startEchoOrigin({ name: 'a' });
  b = await startEchoOrigin({ name: 'b' });
  proxy = await startProxy(
    {
      routes: [
        { name: 'health', match: { path: '/healthz' }, respond: { status: 200, body: 'fine', headers: { 'x-fixed': '1' } } },
        { name: 'api', match: { host: 'api.example.test', path_prefix: '/api/' }, pool: 'a', strip_prefix: '/api' },
        { name: 'wild', match: { host: '*.example.test' }, pool: 'b' },
        { name: 'regex', match: { path_regex: '^/v[0-9]+/' }, pool: 'b', rewrite: { regex: '^/v([0-9]+)/(.*)$', replace: '/version/$1/$2' } },
        { name: 'post-only', match: { path_prefix: '/form', methods: ['POST'] }, pool: 'a' },
        { name: 'beta', match: { headers: { 'x-beta': 'yes' } }, pool: 'b' },
        { name: 'old', match: { path_prefix: '/old' }, redirect: { to: 'https://new.example.test/', status: 301 } },
        { name: 'secure', match: { host: 'plain.test' }, redirect: { scheme: 'https', port: 8443 } },
        { name: 'first', match: { path_prefix: '/shadow' }, pool: 'a' },
        { name: 'second', match: { path_prefix: '/shadow' }, pool: 'b' },
      ],
    },
    { a: { backends: [{ address: a.address }] }, b: { backends: [{ address: b.address }] } },
  );
});

after(async () => {
  await proxy.stop();
  await a.close();
  await b.close();
});

async function get(path: string, host: string, extra = '', method = 'GET'): Promise<{ status: number; head: string; body: string }> {
  const result = await rawExchange(proxy.port, `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}Content-Length: 0\r\n\r\n`, { responses: 1 });
  return result.responses[0];
}

test('fixed response', async () => {
  const r = await get('/healthz', 'any.test');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'fine');
  assert.equal(headerOf(r.head, 'x-fixed'), '1');
});

test('exact host + path prefix, with strip_prefix', async () => {
  const r = await get('/api/users?id=7', 'API.example.test:8080');
  assert.equal(JSON.parse(r.body).origin, 'a');
  assert.equal(JSON.parse(r.body).url, '/users?id=7');
});

test('wildcard host matches one label only', async () => {
  assert.equal(JSON.parse((await get('/x', 'shop.example.test')).body).origin, 'b');
  assert.equal((await get('/x', 'a.b.example.test')).status, 404);
});

test('path regex with rewrite', async () => {
  assert.equal(JSON.parse((await get('/v2/items', 'h.test')).body).url, '/version/2/items');
});

test('methods', async () => {
  assert.equal(JSON.parse((await get('/form', 'h.test', '', 'POST')).body).origin, 'a');
  assert.equal((await get('/form', 'h.test')).status, 404);
});

test('headers', async () => {
  assert.equal(JSON.parse((await get('/anything', 'h.test', 'X-Beta: yes\r\n')).body).origin, 'b');
});

test('redirects: absolute target with the path kept, and scheme/port change', async () => {
  const r = await get('/old/page?q=1', 'h.test');
  assert.equal(r.status, 301);
  assert.equal(headerOf(r.head, 'location'), 'https://new.example.test/old/page?q=1');
  const s = await get('/p', 'plain.test:8080');
  assert.equal(s.status, 308);
  assert.equal(headerOf(s.head, 'location'), 'https://plain.test:8443/p');
});

test('first match wins', async () => {
  assert.equal(JSON.parse((await get('/shadow', 'h.test')).body).origin, 'a');
});

test('no match is 404 and the connection stays usable', async () => {
  const result = await rawExchange(proxy.port, 'GET /nothing HTTP/1.1\r\nHost: h.test\r\n\r\nGET /healthz HTTP/1.1\r\nHost: h.test\r\n\r\n', { responses: 2 });
  assert.equal(result.responses[0].status, 404);
  assert.equal(result.responses[1].body, 'fine');
});

test('access log names the route and pool', async () => {
  await get('/api/x', 'api.example.test');
  const line = proxy.accessLog.findLast((entry) => entry.route === 'api');
  assert.ok(line);
  assert.equal(line.pool, 'a');
  assert.equal(line.backend, a.address);
  assert.equal(line.path, '/api/x');
  assert.equal(typeof line.total_ms, 'number');
});

test('absolute-form target: routed by its authority, sent upstream in origin form with that Host', async () => {
  const result = await rawExchange(proxy.port, 'GET http://API.example.test/api/abs?x=1 HTTP/1.1\r\nHost: ignored.test\r\n\r\n', { responses: 1 });
  const echoed = JSON.parse(result.responses[0].body);
  assert.equal(echoed.origin, 'a');
  assert.equal(echoed.url, '/abs?x=1');
  assert.equal(echoed.headers.host, 'API.example.test');
});
