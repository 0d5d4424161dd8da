// Unit tests of the oidc filter's parts: cookie sealing, the state and session cookies, PKCE, the return
// target, what goes upstream, API-call detection, the schema, and the filter over a hand-made context
// (no I/O at create, 401 for API calls, discovery failures backing off). The login flow against a real
// provider is test/e2e/filters/oidc.test.ts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fakeContext, fakeEnv } from '../../../../test/support/filter-kit.ts';
import { middlewareSchema } from '../../../config/index.ts';
import type { HeaderWriter, LocalResponse } from '../types.ts';
import { deriveKeys, seal, unseal } from './seal.ts';
import { codeChallenge, randomToken } from './pkce.ts';
import { cookiesWithout, readSession, readState, safeReturnTo, sealSession, sealState } from './cookies.ts';
import { claimHeaderValue, isApiCall } from './claims.ts';
import { oidcFilter } from './index.ts';

const keys = deriveKeys(Buffer.from('0123456789abcdef0123456789abcdef-secret'));
const now = 1_700_000_000;

describe('oidc cookie sealing', () => {
  it('round-trips a payload and refuses anything altered, truncated, foreign or for another purpose', () => {
    const value = seal(keys.session, 'session', { sub: 'alice', n: 1 });
    assert.match(value, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(unseal(keys.session, 'session', value), { sub: 'alice', n: 1 });
    assert.notEqual(seal(keys.session, 'session', { sub: 'alice', n: 1 }), value, 'a fresh IV each time');
    for (let i = 0; i < value.length; i += 7) {
      const flipped = value.slice(0, i) + (value[i] === 'A' ? 'B' : 'A') + value.slice(i + 1);
      assert.equal(unseal(keys.session, 'session', flipped), undefined, `byte ${i}`);
    }
    assert.equal(unseal(keys.session, 'session', value.slice(0, -2)), undefined);
    assert.equal(unseal(keys.session, 'state', value), undefined, 'bound to its purpose');
    assert.equal(unseal(keys.state, 'session', value), undefined, 'another key');
    assert.equal(unseal(deriveKeys(Buffer.from('another secret of at least thirty-two bytes')).session, 'session', value), undefined);
    assert.equal(unseal(keys.session, 'session', 'not base64url!'), undefined);
  });

  it('refuses a short secret and derives distinct keys per purpose', () => {
    assert.throws(() => deriveKeys(Buffer.from('short\n')), /at least 32/);
    assert.notDeepEqual(keys.session, keys.state);
    assert.deepEqual(deriveKeys(Buffer.from('  0123456789abcdef0123456789abcdef-secret\n')).session, keys.session, 'surrounding whitespace ignored');
  });
});

describe('oidc state and session cookies', () => {
  it('reads a state cookie until it expires, and never a session sealed as state', () => {
    const state = { state: 's', verifier: 'v', nonce: 'n', returnTo: '/x', exp: now + 600 };
    const sealed = sealState(keys.state, state);
    assert.deepEqual(readState(keys.state, sealed, now), state);
    assert.equal(readState(keys.state, sealed, now + 600), undefined, 'expired');
    assert.equal(readState(keys.state, undefined, now), undefined);
    assert.equal(readState(keys.state, seal(keys.state, 'state', { state: 's' }), now), undefined, 'incomplete');
    assert.equal(readSession(keys.session, sealed, now, 3600), undefined, 'a state cookie is no session');
  });

  it('reads a session until session_max_age from its start, and refuses malformed fields', () => {
    const session = { sub: 'alice', claims: { email: 'a@example.test' }, rt: 'refresh', exp: now + 60, start: now - 100 };
    const sealed = sealSession(keys.session, session);
    assert.deepEqual(readSession(keys.session, sealed, now, 3600), session);
    assert.equal(readSession(keys.session, sealed, now - 100 + 3600, 3600), undefined, 'past session_max_age');
    assert.equal(readSession(keys.session, seal(keys.session, 'session', { ...session, rt: 5 }), now, 3600), undefined);
    assert.equal(readSession(keys.session, seal(keys.session, 'session', { ...session, sub: undefined }), now, 3600), undefined);
    assert.equal(readSession(keys.session, '', now, 3600), undefined);
  });

  it('returns only to same-origin relative paths (no open redirect)', () => {
    assert.equal(safeReturnTo('/account?tab=2'), '/account?tab=2');
    for (const bad of ['//evil.example/x', '/\\evil.example', 'https://evil.example/', 'evil', '', '/a\r\nset-cookie: x', '/a b', `/${'a'.repeat(3000)}`]) assert.equal(safeReturnTo(bad), '/', JSON.stringify(bad.slice(0, 20)));
  });

  it('keeps the edge cookies out of the Cookie header going upstream', () => {
    assert.equal(cookiesWithout('theme=dark; sy_oidc=abc; lang=en', ['sy_oidc', 'sy_oidc_state']), 'theme=dark; lang=en');
    assert.equal(cookiesWithout('sy_oidc=abc;sy_oidc_state=x', ['sy_oidc', 'sy_oidc_state']), undefined);
    assert.equal(cookiesWithout('sy_oidc_x=1', ['sy_oidc']), 'sy_oidc_x=1');
  });
});

describe('oidc PKCE', () => {
  it('computes the S256 challenge of RFC 7636 appendix B and makes 43-character secrets', () => {
    assert.equal(codeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    const token = randomToken();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(randomToken(), token);
  });
});

describe('oidc claims and request kinds', () => {
  it('sanitises claim values for a header', () => {
    assert.equal(claimHeaderValue('alice'), 'alice');
    assert.equal(claimHeaderValue(42), '42');
    assert.equal(claimHeaderValue(['admin', 'ops']), 'admin,ops');
    assert.equal(claimHeaderValue('a\r\nx-admin: 1'), 'a%0D%0Ax-admin: 1');
    assert.equal(claimHeaderValue('Zoë'), 'Zo%C3%AB');
    assert.equal(claimHeaderValue({ nested: true }), undefined);
    assert.equal(claimHeaderValue(null), undefined);
    assert.equal(claimHeaderValue('x'.repeat(5000)), undefined);
  });

  it('tells API calls from browser navigations', () => {
    const api = (method: string, url: string, headers: Record<string, string> = {}) => isApiCall(fakeContext({ method, path: url, headers }), ['/api']);
    assert.equal(api('GET', '/page', { accept: 'text/html,application/xhtml+xml' }), false);
    assert.equal(api('GET', '/page'), false);
    assert.equal(api('GET', '/api/items'), true);
    assert.equal(api('POST', '/page'), true);
    assert.equal(api('GET', '/page', { accept: 'application/json' }), true);
    assert.equal(api('GET', '/page', { accept: 'application/json, text/html' }), false);
    assert.equal(api('GET', '/page', { 'x-requested-with': 'XMLHttpRequest' }), true);
  });
});

describe('oidc schema', () => {
  const parse = (settings: Record<string, unknown>) => middlewareSchema.safeParse([{ oidc: { issuer: 'https://id.example', client_id: 'edge', cookie_secret_file: 'k', ...settings } }]);
  it('fills the defaults', () => {
    const result = parse({});
    assert.ok(result.success);
    assert.deepEqual(result.data[0].settings, {
      issuer: 'https://id.example',
      client_id: 'edge',
      cookie_secret_file: 'k',
      redirect_path: '/oauth2/callback',
      logout_path: '/oauth2/logout',
      post_logout_redirect: '/',
      scopes: ['openid', 'profile', 'email'],
      cookie: 'sy_oidc',
      secure: 'auto',
      session_max_age: 43_200_000,
      refresh_before: 60_000,
      forward_claims: {},
      forward_cookie: false,
      forward_authorization: false,
      api_paths: [],
      timeout: 5_000,
    });
  });
  it('refuses what would be unsafe or meaningless', () => {
    for (const [settings, message] of [
      [{ issuer: 'http://id.example' }, /https issuer/],
      [{ issuer: 'http://127.0.0.1:9000' }, null],
      [{ scopes: ['profile'] }, /openid/],
      [{ redirect_path: '//evil.example/cb' }, /single \//],
      [{ post_logout_redirect: 'https://evil.example/' }, /absolute path/],
      [{ forward_claims: { sub: 'cookie' } }, /does not own/],
      [{ forward_claims: { sub: 'x user' } }, /header name/],
      [{ logout_path: '/oauth2/callback' }, /differ/],
      [{ refresh_before: '13h' }, /shorter/],
      [{ cookie_secret_file: undefined }, /.+/],
      [{ unknown_key: 1 }, /.+/],
    ] as [Record<string, unknown>, RegExp | null][]) {
      const result = parse(settings);
      if (message === null) assert.ok(result.success, JSON.stringify(settings));
      else {
        assert.ok(!result.success, JSON.stringify(settings));
        assert.match(result.error.issues.map((issue) => issue.message).join('; '), message);
      }
    }
  });
});

describe('the oidc filter over a hand-made context', () => {
  let dir: string;
  let discoveryHits = 0;
  const provider = http.createServer((_req, res) => {
    discoveryHits++;
    res.writeHead(500).end();
  });
  const settings = (issuer: string) => {
    const result = middlewareSchema.parse([{ oidc: { issuer, client_id: 'edge', cookie_secret_file: 'cookie.secret', forward_claims: { sub: 'x-user-id', email: 'x-user-email' }, api_paths: ['/api'] } }]);
    return result[0].settings as Parameters<typeof oidcFilter.create>[0];
  };
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-oidc-unit-'));
    await writeFile(path.join(dir, 'cookie.secret'), '0123456789abcdef0123456789abcdef-secret\n');
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => provider.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('does no I/O at create()', () => {
    const { env } = fakeEnv(path.join(dir, 'missing'));
    const filter = oidcFilter.create(settings('https://id.example'), env);
    assert.equal(filter.name, 'oidc');
  });

  it('answers API calls 401 and clears a bad cookie; a browser waits on discovery, which backs off after a failure', async () => {
    const { env, clock, host } = fakeEnv(dir);
    const filter = oidcFilter.create(settings(`http://127.0.0.1:${(provider.address() as AddressInfo).port}`), env);
    const api = (await filter.onRequest!(fakeContext({ path: '/api/x', headers: { cookie: 'sy_oidc=forged' } }))) as LocalResponse;
    assert.equal(api.status, 401);
    assert.ok(api.headers.includes('set-cookie'));
    assert.equal(discoveryHits, 0, 'an API call needs no discovery');
    const cleared = (response: LocalResponse) => response.headers[response.headers.indexOf('set-cookie') + 1];
    assert.equal(cleared(api), 'sy_oidc=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
    const overTls = (await filter.onRequest!(fakeContext({ path: '/api/x', scheme: 'https', headers: { cookie: 'sy_oidc=forged' } }))) as LocalResponse;
    assert.equal(cleared(overTls), 'sy_oidc=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure', 'Secure on https (secure: auto)');
    const page = (await filter.onRequest!(fakeContext({ path: '/page' }))) as LocalResponse;
    assert.equal(page.status, 503);
    assert.equal(discoveryHits, 1);
    assert.equal(((await filter.onRequest!(fakeContext({ path: '/page' }))) as LocalResponse).status, 503);
    assert.equal(discoveryHits, 1, 'backing off: no second fetch within a second');
    clock.ms += 1_100;
    await filter.onRequest!(fakeContext({ path: '/page' }));
    assert.equal(discoveryHits, 2, 'tried again after the backoff');
    await filter.onRequest!(fakeContext({ path: '/page' }));
    assert.equal(discoveryHits, 2, 'the second failure backs off longer');
    const events = new Map(host.snapshot().map((series) => [series.event, series.count]));
    assert.equal(events.get('unauthenticated'), 2);
    assert.equal(events.get('session_invalid'), 2);
    await host.close();
  });

  it('sends the session claims upstream in place of the client’s fields, without the edge cookies or Authorization', async () => {
    const { env, host } = fakeEnv(dir);
    const filter = oidcFilter.create(settings('https://id.example'), env);
    const session = sealSession(keys.session, { sub: 'alice', claims: { email: 'alice@example.test' }, exp: Math.floor(Date.now() / 1000) + 3600, start: Math.floor(Date.now() / 1000) });
    const ctx = fakeContext({ path: '/page', headers: { cookie: `theme=dark; sy_oidc=${session}`, 'x-user-id': 'mallory', authorization: 'Bearer x' } });
    assert.equal(await filter.onRequest!(ctx), undefined);
    const edits: string[] = [];
    const head: HeaderWriter = { set: (name, value) => edits.push(`set ${name}: ${value}`), add: (name, value) => edits.push(`add ${name}: ${value}`), remove: (name) => edits.push(`remove ${name}`) };
    filter.onUpstreamRequest!(ctx, head);
    assert.deepEqual(edits, ['remove x-user-id', 'set x-user-id: alice', 'remove x-user-email', 'set x-user-email: alice@example.test', 'remove authorization', 'set cookie: theme=dark']);
    await host.close();
  });
});
