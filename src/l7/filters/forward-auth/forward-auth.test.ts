// forward_auth against a real auth service on loopback: what the subrequest carries, a 2xx copying fields
// into the upstream head (the client's own fields of those names dropped), refusals relayed with their
// status, fields and body, and an unreachable or slow service answered 503.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureSelfSigned } from '../../../tls/index.ts';
import type { AddressInfo } from 'node:net';
import { middlewareSchemas } from '../../../config/index.ts';
import { filterContext, filterEnv, FlatWriter, type TestEnv } from '../../../../test/support/filter-kit.ts';
import type { HttpFilter, LocalResponse } from '../types.ts';
import { forwardAuthFilter } from './index.ts';

const schema = middlewareSchemas.forward_auth;

describe('forward_auth filter', () => {
  const seen: http.IncomingHttpHeaders[] = [];
  const seenTargets: string[] = [];
  const held: http.ServerResponse[] = [];
  const auth = http.createServer((req, res) => {
    seen.push(req.headers);
    seenTargets.push(`${req.method} ${req.url}`);
    if (req.headers.authorization === 'Bearer good') {
      res.writeHead(200, { 'x-user': 'ada', 'x-roles': 'admin', 'x-other': 'not copied' });
      res.end('ok');
    } else if (req.headers.authorization === 'Bearer slow') {
      held.push(res);
    } else if (req.headers.authorization === 'Bearer big') {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('x'.repeat(200_000));
    } else if (req.headers.cookie === undefined) {
      res.writeHead(302, { location: 'https://login.test/?rd=x', 'set-cookie': ['a=1', 'b=2'], 'x-internal': 'secret' });
      res.end();
    } else {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="auth"', 'content-type': 'application/json' });
      res.end('{"error":"who are you"}');
    }
  });
  let url: string;
  let env: TestEnv;
  let filter: HttpFilter;

  before(async () => {
    await new Promise<void>((resolve) => auth.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(auth.address() as AddressInfo).port}/verify?svc=edge`;
    env = filterEnv();
    filter = forwardAuthFilter.create(schema.parse({ url, copy_headers: ['X-User', 'x-roles'], timeout: '300ms', max_body_size: '1kb' }), env);
  });

  after(async () => {
    for (const res of held) res.destroy();
    for (const service of env.services.values()) await (service as { close(): Promise<void> }).close();
    auth.closeAllConnections();
    await new Promise<void>((resolve) => auth.close(() => resolve()));
  });

  it('sends the original request in X-Forwarded-* with the chosen fields, and copies fields upstream on 2xx', async () => {
    const ctx = filterContext({ method: 'POST', path: '/api/orders', query: 'page=2', host: 'shop.test:8443', scheme: 'https', clientAddress: '198.51.100.4', headers: { authorization: 'Bearer good', cookie: 's=1', 'x-secret': 'no' } });
    assert.equal(await filter.onRequest!(ctx), undefined);
    const sent = seen.at(-1)!;
    assert.equal(seenTargets.at(-1), 'GET /verify?svc=edge');
    assert.equal(sent['x-forwarded-method'], 'POST');
    assert.equal(sent['x-forwarded-uri'], '/api/orders?page=2');
    assert.equal(sent['x-forwarded-host'], 'shop.test:8443');
    assert.equal(sent['x-forwarded-for'], '198.51.100.4');
    assert.equal(sent['x-forwarded-proto'], 'https');
    assert.equal(sent.authorization, 'Bearer good');
    assert.equal(sent.cookie, 's=1');
    assert.equal(sent['x-secret'], undefined);
    const upstream = ['x-user', 'forged', 'accept', '*/*'];
    filter.onUpstreamRequest!(ctx, new FlatWriter(upstream));
    assert.deepEqual(upstream, ['accept', '*/*', 'x-user', 'ada', 'x-roles', 'admin']);
    assert.equal(env.counts.get('forward_auth:allowed'), 1);
  });

  it('relays a 401 with its challenge, content-type and body', async () => {
    const ctx = filterContext({ headers: { cookie: 's=bad' } });
    const answer = (await filter.onRequest!(ctx)) as LocalResponse;
    assert.deepEqual(ctx.reasons, ['forward_auth:denied']);
    assert.equal(answer.status, 401);
    assert.deepEqual(answer.headers, ['content-type', 'application/json', 'www-authenticate', 'Bearer realm="auth"']);
    assert.equal(answer.body.toString(), '{"error":"who are you"}');
  });

  it('relays a redirect to a login page with its cookies, and no other field', async () => {
    const answer = (await filter.onRequest!(filterContext({}))) as LocalResponse;
    assert.equal(answer.status, 302);
    assert.deepEqual(answer.headers, ['location', 'https://login.test/?rd=x', 'set-cookie', 'a=1', 'set-cookie', 'b=2']);
  });

  it('does not relay a refusal body over max_body_size', async () => {
    const answer = (await filter.onRequest!(filterContext({ headers: { authorization: 'Bearer big' } }))) as LocalResponse;
    assert.equal(answer.status, 403);
    assert.deepEqual(answer.headers, []);
    assert.match(answer.body.toString(), /refused by the auth service \(403\)/);
  });

  it('answers 503 when the service is slower than timeout, and warns once', async () => {
    const ctx = filterContext({ headers: { authorization: 'Bearer slow' } });
    const answer = (await filter.onRequest!(ctx)) as LocalResponse;
    assert.deepEqual(ctx.reasons, ['forward_auth:timeout']);
    assert.equal(answer.status, 503);
    assert.match(answer.body.toString(), /did not answer in time/);
    assert.equal(env.counts.get('forward_auth:timeout'), 1);
    assert.deepEqual(env.warnings, ['forward_auth: auth service unavailable']);
    assert.equal(await filter.onRequest!(filterContext({ headers: { authorization: 'Bearer good' } })), undefined);
    assert.deepEqual(env.warnings, ['forward_auth: auth service unavailable', 'forward_auth: auth service reachable again']);
  });

  it('answers 503 when the service cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const localEnv = filterEnv();
    const down = forwardAuthFilter.create(schema.parse({ url: `http://127.0.0.1:${port}/auth` }), localEnv);
    const answer = (await down.onRequest!(filterContext({}))) as LocalResponse;
    assert.equal(answer.status, 503);
    assert.match(answer.body.toString(), /unreachable/);
    for (const service of localEnv.services.values()) await (service as { close(): Promise<void> }).close();
  });

  it('shares one connection pool per auth origin, and refuses what would do nothing', () => {
    const shared = filterEnv();
    const one = forwardAuthFilter.create(schema.parse({ url }), shared);
    const two = forwardAuthFilter.create(schema.parse({ url: url.replace('/verify', '/other') }), shared);
    assert.ok(one && two);
    assert.equal(shared.services.size, 0, 'nothing is built before the first request');
    assert.throws(() => schema.parse({}), /url/);
    assert.throws(() => schema.parse({ url: 'http://a.test/', ca_file: 'ca.pem' }), /ca_file only with an https:\/\/ url/);
    assert.throws(() => schema.parse({ url: 'http://a.test/', copy_headers: ['transfer-encoding'] }), /the edge does not own/);
  });

  it('speaks TLS to an https:// auth service, trusting ca_file (and refuses one it cannot verify)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-forward-auth-'));
    const { caCert, cert, key } = await ensureSelfSigned(dir, 'auth', ['127.0.0.1', 'localhost']);
    const secure = https.createServer({ cert: await readFile(cert), key: await readFile(key) }, (req, res) => {
      res.writeHead(req.headers.authorization === 'Bearer good' ? 204 : 401);
      res.end();
    });
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
    const secureUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/check`;
    const localEnv = filterEnv(dir);
    try {
      const trusted = forwardAuthFilter.create(schema.parse({ url: secureUrl, ca_file: caCert }), localEnv);
      assert.equal(await trusted.onRequest!(filterContext({ headers: { authorization: 'Bearer good' } })), undefined);
      assert.equal(((await trusted.onRequest!(filterContext({ headers: { authorization: 'Bearer bad' } }))) as LocalResponse).status, 401);
      const untrusted = forwardAuthFilter.create(schema.parse({ url: secureUrl }), localEnv);
      assert.equal(((await untrusted.onRequest!(filterContext({ headers: { authorization: 'Bearer good' } }))) as LocalResponse).status, 503);
    } finally {
      for (const service of localEnv.services.values()) await (service as { close(): Promise<void> }).close();
      secure.closeAllConnections();
      await new Promise<void>((resolve) => secure.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
