import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeSchema } from '../../config/index.ts';
import { Router } from './router.ts';
import { upstreamTarget, redirectLocation, type ProxyAction, type RedirectAction } from './actions.ts';

const noHeaders = { header: () => undefined };
const router = (routes: unknown[]): Router => new Router(routes.map((route) => routeSchema.parse(route)));

test('host: exact, wildcard (one label), case-insensitive input already lower-cased', () => {
  const r = router([
    { name: 'exact', match: { host: 'api.example.test' }, pool: 'a' },
    { name: 'wild', match: { host: '*.example.test' }, pool: 'b' },
    { name: 'any', pool: 'c' },
  ]);
  assert.equal(r.match('GET', 'api.example.test', '/', noHeaders)?.name, 'exact');
  assert.equal(r.match('GET', 'x.example.test', '/', noHeaders)?.name, 'wild');
  assert.equal(r.match('GET', 'a.b.example.test', '/', noHeaders)?.name, 'any');
  assert.equal(r.match('GET', 'example.test', '/', noHeaders)?.name, 'any');
});

test('path: prefix, exact, regex; methods; headers; first match wins', () => {
  const r = router([
    { name: 'exact', match: { path: '/health' }, respond: { body: 'ok' } },
    { name: 'prefix', match: { path_prefix: '/api/', methods: ['GET', 'POST'] }, pool: 'api' },
    { name: 'regex', match: { path_regex: '^/v[0-9]+/' }, pool: 'v' },
    { name: 'header', match: { headers: { 'x-beta': '1', 'x-user': { regex: '^u-' }, 'x-no': { present: false } } }, pool: 'beta' },
    { name: 'shadowed', match: { path: '/health' }, pool: 'never' },
  ]);
  assert.equal(r.match('GET', 'h', '/health', noHeaders)?.name, 'exact');
  assert.equal(r.match('GET', 'h', '/healthz', noHeaders), null);
  assert.equal(r.match('POST', 'h', '/api/x', noHeaders)?.name, 'prefix');
  assert.equal(r.match('DELETE', 'h', '/api/x', noHeaders), null);
  assert.equal(r.match('GET', 'h', '/v2/x', noHeaders)?.name, 'regex');
  const headers = (values: Record<string, string>) => ({ header: (name: string) => values[name] });
  assert.equal(r.match('GET', 'h', '/x', headers({ 'x-beta': '1', 'x-user': 'u-1' }))?.name, 'header');
  assert.equal(r.match('GET', 'h', '/x', headers({ 'x-beta': '1', 'x-user': 'v-1' })), null);
  assert.equal(r.match('GET', 'h', '/x', headers({ 'x-beta': '1', 'x-user': 'u-1', 'x-no': '' })), null);
});

test('strip_prefix and rewrite build the upstream target', () => {
  const r = router([
    { match: { path_prefix: '/api' }, pool: 'a', strip_prefix: true },
    { match: { path_prefix: '/x/' }, pool: 'a', strip_prefix: '/x' },
    { match: { path_prefix: '/old' }, pool: 'a', rewrite: { regex: '^/old/(.*)$', replace: '/new/$1' } },
  ]);
  const action = (i: number) => r.routes[i].action as ProxyAction;
  assert.equal(upstreamTarget(action(0), '/api/users?id=1', '/api/users'), '/users?id=1');
  assert.equal(upstreamTarget(action(0), '/api', '/api'), '/');
  assert.equal(upstreamTarget(action(1), '/x/y', '/x/y'), '/y');
  assert.equal(upstreamTarget(action(2), '/old/a/b?q', '/old/a/b'), '/new/a/b?q');
});

test('redirect locations', () => {
  const r = router([
    { redirect: { scheme: 'https', port: 8443 } },
    { redirect: { to: 'https://example.test/', status: 302 } },
    { redirect: { to: 'https://example.test/home', keep_path: false } },
  ]);
  const action = (i: number) => r.routes[i].action as RedirectAction;
  assert.equal(redirectLocation(action(0), 'http', 'a.test', 'a.test:8080', '/p?q'), 'https://a.test:8443/p?q');
  assert.equal(redirectLocation(action(1), 'http', 'a.test', 'a.test', '/p'), 'https://example.test/p');
  assert.equal(action(1).status, 302);
  assert.equal(redirectLocation(action(2), 'http', 'a.test', 'a.test', '/p'), 'https://example.test/home');
});

test('explain: each route up to the match with why it missed, agreeing with match()', () => {
  const r = router([
    { name: 'host', match: { host: ['api.example.test', '*.api.test'] }, pool: 'a' },
    { name: 'regex', match: { path_regex: '^/v[0-9]+/' }, pool: 'v' },
    { name: 'post', match: { path_prefix: '/orders', methods: ['POST'] }, pool: 'o' },
    { name: 'header', match: { headers: { 'x-user': { regex: '^u-' } } }, pool: 'h' },
    { name: 'any', pool: 'c' },
    { name: 'never', pool: 'n' },
  ]);
  const headers = { header: (name: string) => (name === 'x-user' ? 'admin' : undefined) };
  const verdicts = r.explain('GET', 'www.example.test', '/orders/7', headers);
  assert.deepEqual(
    verdicts.map((verdict) => [verdict.route.name, verdict.reason]),
    [
      ['host', 'host mismatch: route wants api.example.test, *.api.test, request host is www.example.test'],
      ['regex', 'path mismatch: route wants a path matching /^\\/v[0-9]+\\//, request path is /orders/7'],
      ['post', 'method mismatch: route wants POST, request method is GET'],
      ['header', 'header mismatch: route wants x-user matching /^u-/, request has x-user: admin'],
      ['any', 'matches'],
    ],
  );
  assert.equal(r.match('GET', 'www.example.test', '/orders/7', headers), verdicts.at(-1)!.route);
  assert.equal(r.explain('GET', 'x.api.test', '/', noHeaders)[0].matches, true);
});
