// cors: origin matching (exact, wildcard subdomains, "*"), preflights answered here (204 / 403), response
// fields on allowed origins only, Vary: Origin whenever the answer depends on it, and load-time refusals.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { corsFilterSchema } from '../../../config/index.ts';
import { FlatWriter, type LocalResponse, type ResponseView } from '../index.ts';
import { fakeContext, type FakeContext } from '../../../../test/support/filter-kit.ts';
import { corsFilter } from './index.ts';
import { compileOrigins } from './origins.ts';

function context(method: string, headers: Record<string, string>): FakeContext {
  return fakeContext({ method, path: '/api', host: 'api.example.test', scheme: 'https', routeName: 'api', headers });
}

const build = (settings: unknown) => corsFilter.create(corsFilterSchema.parse(settings));
const view: ResponseView = { status: 200, header: () => undefined, fields: () => [], backend: 'b' };
const fieldsOf = (answer: LocalResponse): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i < answer.headers.length; i += 2) out[answer.headers[i]] = answer.headers[i + 1];
  return out;
};

describe('cors schema', () => {
  it('refuses "*" with credentials, paths in origins, and bad header names', () => {
    assert.match(corsFilterSchema.safeParse({ origins: ['*'], credentials: true }).error!.message, /cannot be used with credentials/);
    assert.equal(corsFilterSchema.safeParse({ origins: ['https://a.test'], headers: ['*'], credentials: true }).success, false);
    for (const origin of ['https://a.test/path', 'a.test', 'ftp://a.test', 'https://*.', 'https://a.test:99999']) assert.equal(corsFilterSchema.safeParse({ origins: [origin] }).success, false, origin);
  });
});

describe('origin matching', () => {
  const matcher = compileOrigins(corsFilterSchema.parse({ origins: ['https://app.example.test', 'https://*.example.test', 'http://localhost:3000'] }).origins, false);
  it('exact, any subdomain depth, port significant, never the apex or a look-alike', () => {
    for (const yes of ['https://app.example.test', 'https://a.example.test', 'https://a.b.example.test', 'http://localhost:3000', 'HTTPS://A.EXAMPLE.TEST']) assert.ok(matcher.allows(yes), yes);
    for (const no of ['https://example.test', 'http://a.example.test', 'https://evil-example.test', 'https://a.example.test.evil', 'https://a.example.test:8443', 'http://localhost:3001', 'null', 'https://.example.test', 'https://a..example.test']) assert.ok(!matcher.allows(no), no);
  });
});

describe('cors filter', () => {
  const filter = build({ origins: ['https://*.example.test'], methods: ['GET', 'PUT', 'DELETE'], headers: ['Content-Type', 'X-Token'], expose_headers: ['X-Request-Id'], credentials: true, max_age: 300 });

  it('answers an allowed preflight with 204 and the policy', () => {
    const answer = filter.onRequest!(context('OPTIONS', { origin: 'https://app.example.test', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type, x-token' })) as LocalResponse;
    assert.equal(answer.status, 204);
    assert.deepEqual(fieldsOf(answer), {
      'access-control-allow-origin': 'https://app.example.test',
      'access-control-allow-methods': 'GET, PUT, DELETE',
      'access-control-allow-headers': 'content-type, x-token',
      'access-control-allow-credentials': 'true',
      'access-control-max-age': '300',
      vary: 'Origin',
      'cache-control': 'no-store',
    });
  });

  it('refuses a preflight from another origin, for another method or header: 403 without CORS fields', () => {
    const cases: Record<string, string>[] = [
      { origin: 'https://evil.test', 'access-control-request-method': 'PUT' },
      { origin: 'https://app.example.test', 'access-control-request-method': 'PATCH' },
      { origin: 'https://app.example.test', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-other' },
    ];
    const reasons: string[] = [];
    for (const headers of cases) {
      const ctx = context('OPTIONS', headers);
      const answer = filter.onRequest!(ctx) as LocalResponse;
      reasons.push(ctx.reason);
      assert.equal(answer.status, 403, JSON.stringify(headers));
      assert.ok(!answer.headers.includes('access-control-allow-origin'));
    }
    assert.deepEqual(reasons, ['cors:origin', 'cors:method', 'cors:header']);
  });

  it('lets a plain OPTIONS and other methods through', () => {
    assert.equal(filter.onRequest!(context('OPTIONS', { origin: 'https://app.example.test' })), undefined);
    assert.equal(filter.onRequest!(context('GET', { origin: 'https://app.example.test' })), undefined);
  });

  it('adds the fields to an allowed origin\'s response, replacing the upstream\'s own', () => {
    const fields = ['access-control-allow-origin', '*', 'vary', 'Accept-Encoding'];
    filter.onResponse!(context('GET', { origin: 'https://app.example.test' }), new FlatWriter(fields), view);
    assert.deepEqual(fields, ['vary', 'Accept-Encoding', 'vary', 'Origin', 'access-control-allow-origin', 'https://app.example.test', 'access-control-allow-credentials', 'true', 'access-control-expose-headers', 'x-request-id']);
  });

  it('strips CORS fields for a disallowed origin, keeps Vary: Origin without one', () => {
    const denied = ['access-control-allow-origin', '*', 'access-control-allow-credentials', 'true'];
    filter.onResponse!(context('GET', { origin: 'https://evil.test' }), new FlatWriter(denied), view);
    assert.deepEqual(denied, ['vary', 'Origin']);
    const none: string[] = [];
    filter.onResponse!(context('GET', {}), new FlatWriter(none), view);
    assert.deepEqual(none, ['vary', 'Origin']);
  });

  it('"*" without credentials: a constant answer, no Vary', () => {
    const open = build({ origins: ['*'] });
    const fields: string[] = [];
    open.onResponse!(context('GET', { origin: 'https://any.test' }), new FlatWriter(fields), view);
    assert.deepEqual(fields, ['access-control-allow-origin', '*']);
    const preflight = open.onRequest!(context('OPTIONS', { origin: 'null', 'access-control-request-method': 'GET' })) as LocalResponse;
    assert.equal(fieldsOf(preflight)['access-control-allow-origin'], '*');
    assert.equal(fieldsOf(preflight).vary, undefined);
  });
});
