// The jwt filter with tokens signed here by jose: what passes (and which claims go upstream), and every
// forged or broken token refused with 401 and an RFC 6750 challenge before anything could go upstream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPublicKey } from 'node:crypto';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { middlewareSchemas } from '../../../config/index.ts';
import { filterContext, filterEnv, FlatWriter, type RequestShape, type TestEnv } from '../../../../test/support/filter-kit.ts';
import type { HttpFilter, LocalResponse, RequestVerdict } from '../types.ts';
import { jwtFilter } from './index.ts';

const schema = middlewareSchemas.jwt;

let dir: string;
let es: { privateKey: CryptoKey; publicKey: CryptoKey };
let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
let other: { privateKey: CryptoKey; publicKey: CryptoKey };
let rsaPem: string;
const secret = new TextEncoder().encode('0123456789abcdef0123456789abcdef-shared');

async function sign(claims: JWTPayload, key: CryptoKey | Uint8Array, alg = 'ES256', kid = 'k1', edit?: (jwt: SignJWT) => SignJWT): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg, kid }).setIssuedAt();
  if (claims.exp === undefined) jwt = jwt.setExpirationTime('5m');
  if (edit) jwt = edit(jwt);
  return jwt.sign(key);
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function run(filter: HttpFilter, shape: RequestShape): Promise<{ verdict: RequestVerdict; upstream: string[]; sync: boolean; reasons: string[] }> {
  const ctx = filterContext(shape);
  const result = filter.onRequest!(ctx);
  const sync = !(result instanceof Promise);
  const verdict = await result;
  const upstream = ['authorization', shape.headers?.authorization ?? '', 'x-user-id', 'forged-by-client'];
  if (verdict === undefined) filter.onUpstreamRequest?.(ctx, new FlatWriter(upstream));
  return { verdict, upstream, sync, reasons: ctx.reasons };
}

function challenge(verdict: RequestVerdict): string {
  assert.ok(verdict, 'expected a refusal');
  const answer = verdict as LocalResponse;
  assert.equal(answer.status, 401);
  return answer.headers[answer.headers.indexOf('www-authenticate') + 1];
}

const bearer = (token: string): RequestShape => ({ headers: { authorization: `Bearer ${token}` } });

describe('jwt filter', () => {
  let env: TestEnv;
  let filter: HttpFilter;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-jwt-'));
    es = await generateKeyPair('ES256', { extractable: true });
    rsa = await generateKeyPair('RS256', { extractable: true });
    other = await generateKeyPair('ES256', { extractable: true });
    rsaPem = await exportSPKI(rsa.publicKey);
    await writeFile(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(es.publicKey)), kid: 'k1', alg: 'ES256' }] }));
    await writeFile(path.join(dir, 'rsa.pem'), rsaPem);
    await writeFile(path.join(dir, 'secret'), Buffer.concat([secret, Buffer.from('\n')]));
    await writeFile(path.join(dir, 'short'), 'too short\n');
    env = filterEnv(dir);
    filter = jwtFilter.create(schema.parse({ keys_file: 'jwks.json', audience: ['orders', 'users'], issuer: 'https://id.test', required_claims: ['sub'], forward_claims: { sub: 'X-User-Id', email: 'x-user-email', n: 'x-n' } }), env);
  });

  after(() => rm(dir, { recursive: true, force: true }));

  const good = (extra: JWTPayload = {}) => sign({ iss: 'https://id.test', aud: 'orders', sub: 'u-42', email: 'ada@example.test', n: 7, ...extra }, es.privateKey);

  it('lets a valid token through and forwards the chosen claims, replacing the client fields', async () => {
    const token = await good();
    const { verdict, upstream, reasons } = await run(filter, bearer(token));
    assert.equal(verdict, undefined);
    assert.deepEqual(upstream, ['authorization', `Bearer ${token}`, 'x-user-id', 'u-42', 'x-user-email', 'ada@example.test', 'x-n', '7']);
    assert.deepEqual(reasons, [], 'a request let through has no reason');
  });

  it('answers a repeated token from the cache, synchronously, until the cache time ends', async () => {
    const localEnv = filterEnv(dir);
    const cached = jwtFilter.create(schema.parse({ keys_file: 'jwks.json', cache_ttl: '10s' }), localEnv);
    const token = await good();
    assert.equal((await run(cached, bearer(token))).sync, false);
    const again = await run(cached, bearer(token));
    assert.equal(again.verdict, undefined);
    assert.equal(again.sync, true);
    assert.equal(localEnv.counts.get('jwt:cached'), 1);
    localEnv.advance(10_001);
    assert.equal((await run(cached, bearer(token))).sync, false);
    assert.equal(localEnv.counts.get('jwt:verified'), 2);
  });

  it('does not cache past the token exp', async () => {
    const localEnv = filterEnv(dir);
    const cached = jwtFilter.create(schema.parse({ keys_file: 'jwks.json', clock_tolerance: '0s' }), localEnv);
    const token = await sign({ exp: Math.floor(Date.now() / 1000) + 2 }, es.privateKey);
    await run(cached, bearer(token));
    localEnv.advance(2_500);
    assert.equal((await run(cached, bearer(token))).sync, false, 'verified again, not served from the cache');
  });

  it('refuses a request without a token with the bare challenge', async () => {
    const missing = await run(filter, {});
    assert.equal(challenge(missing.verdict), 'Bearer realm="switchyard"');
    assert.deepEqual(missing.reasons, ['jwt:missing']);
    assert.equal(challenge((await run(filter, { headers: { authorization: 'Basic dXNlcjpwYXNz' } })).verdict), 'Bearer realm="switchyard"');
  });

  const forged: [string, () => Promise<string>, RegExp, RegExp][] = [
    ['alg none', async () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: 'https://id.test', aud: 'orders', sub: 'u-1', exp: 4_000_000_000 })}.`, /algorithm is not accepted|malformed|unsupported/, /^jwt:(algorithm|malformed|unsupported)$/],
    ['a key not in the set', () => sign({ iss: 'https://id.test', aud: 'orders', sub: 'u-1' }, other.privateKey), /signature does not verify/, /^jwt:signature$/],
    ['an unknown kid', () => sign({ iss: 'https://id.test', aud: 'orders', sub: 'u-1' }, es.privateKey, 'ES256', 'nope'), /no key matches/, /^jwt:no_key$/],
    ['an expired token', () => sign({ iss: 'https://id.test', aud: 'orders', sub: 'u-1', exp: Math.floor(Date.now() / 1000) - 120 }, es.privateKey), /has expired/, /^jwt:expired$/],
    ['nbf in the future', () => sign({ iss: 'https://id.test', aud: 'orders', sub: 'u-1', nbf: Math.floor(Date.now() / 1000) + 3600 }, es.privateKey), /not valid yet/, /^jwt:not_yet_valid$/],
    ['a wrong audience', () => sign({ iss: 'https://id.test', aud: 'billing', sub: 'u-1' }, es.privateKey), /the aud claim/, /^jwt:claims$/],
    ['a wrong issuer', () => sign({ iss: 'https://evil.test', aud: 'orders', sub: 'u-1' }, es.privateKey), /the iss claim/, /^jwt:claims$/],
    ['a missing required claim', () => sign({ iss: 'https://id.test', aud: 'orders' }, es.privateKey), /the sub claim/, /^jwt:claims$/],
    ['three parts of garbage', async () => 'abc.def.ghi', /malformed/, /^jwt:malformed$/],
    ['not a JWS at all', async () => 'hello world', /malformed/, /^jwt:malformed$/],
    ['a huge token', async () => `${'a'.repeat(9000)}.b.c`, /too large/, /^jwt:too_large$/],
    ['HS256 signed with the public key as secret (key confusion)', () => sign({ iss: 'https://id.test', aud: 'orders', sub: 'u-1' }, new TextEncoder().encode(rsaPem), 'HS256'), /algorithm is not accepted/, /^jwt:algorithm$/],
  ];
  for (const [what, token, description, reason] of forged) {
    it(`refuses ${what} with invalid_token`, async () => {
      const result = await run(filter, bearer(await token()));
      const value = challenge(result.verdict);
      assert.match(value, /^Bearer realm="switchyard", error="invalid_token", error_description="[^"]+"$/);
      assert.match(value, description);
      assert.equal(result.reasons.length, 1);
      assert.match(result.reasons[0], reason);
    });
  }

  it('with PEM keys refuses HS256 signed with that very PEM (key confusion), and accepts RS256', async () => {
    const pem = jwtFilter.create(schema.parse({ keys_file: 'rsa.pem' }), filterEnv(dir));
    const confused = await sign({ sub: 'x' }, new TextEncoder().encode(rsaPem), 'HS256', undefined);
    assert.match(challenge((await run(pem, bearer(confused))).verdict), /algorithm is not accepted/);
    assert.equal((await run(pem, bearer(await sign({ sub: 'x' }, rsa.privateKey, 'RS256')))).verdict, undefined);
    const publicPem = createPublicKey(rsaPem).export({ format: 'pem', type: 'spki' }).toString();
    assert.equal(publicPem.trim(), rsaPem.trim());
  });

  it('verifies HS256 with a secret_file (its trailing newline dropped), and refuses a short secret at build', async () => {
    const hmac = jwtFilter.create(schema.parse({ secret_file: 'secret' }), filterEnv(dir));
    assert.equal((await run(hmac, bearer(await sign({ sub: 'x' }, secret, 'HS256')))).verdict, undefined);
    assert.match(challenge((await run(hmac, bearer(await sign({ sub: 'x' }, es.privateKey)))).verdict), /algorithm is not accepted/);
    assert.throws(() => jwtFilter.create(schema.parse({ secret_file: 'short' }), filterEnv(dir)), /jwt: secret_file: expected a secret of at least 32 bytes, got 9 in .*short/);
  });

  it('reads the token from the cookie when there is no bearer, and can strip Authorization upstream', async () => {
    const viaCookie = jwtFilter.create(schema.parse({ keys_file: 'jwks.json', cookie: 'session', forward_token: false }), filterEnv(dir));
    const token = await good();
    const { verdict, upstream } = await run(viaCookie, { cookies: { session: token } });
    assert.equal(verdict, undefined);
    assert.deepEqual(upstream, ['x-user-id', 'forged-by-client']);
  });

  it('forwards only printable strings and numbers; the client field is dropped all the same', async () => {
    const token = await sign({ iss: 'https://id.test', aud: 'orders', sub: 'evil\r\nx-admin: 1', email: { nested: true }, n: 'a\u00e9' }, es.privateKey);
    const { verdict, upstream } = await run(filter, bearer(token));
    assert.equal(verdict, undefined);
    assert.deepEqual(upstream, ['authorization', `Bearer ${token}`]);
    assert.equal(env.counts.get('jwt:claim_not_forwarded'), 3);
  });

  it('refuses settings that would verify nothing or invite key confusion', () => {
    assert.throws(() => schema.parse({}), /exactly one of keys_file, jwks_url or secret_file, got none/);
    assert.throws(() => schema.parse({ keys_file: 'a', jwks_url: 'https://id.test/jwks' }), /got keys_file and jwks_url/);
    assert.throws(() => schema.parse({ keys_file: 'a', algorithms: ['HS256'] }), /HMAC needs secret_file/);
    assert.throws(() => schema.parse({ secret_file: 'a', algorithms: ['RS256'] }), /expected HS256, HS384 or HS512 with secret_file/);
    assert.throws(() => schema.parse({ keys_file: 'a', algorithms: ['none'] }), /never none/);
    assert.throws(() => schema.parse({ jwks_url: 'ftp://id.test/jwks' }), /http:\/\/ or https:\/\//);
    assert.throws(() => schema.parse({ keys_file: 'a', jwks_cooldown: '1s' }), /only with jwks_url/);
    assert.throws(() => schema.parse({ keys_file: 'a', forward_claims: { sub: 'content-length' } }), /the edge does not own/);
  });

  it('refuses key files holding private or symmetric keys', async () => {
    await writeFile(path.join(dir, 'private.json'), JSON.stringify(await exportJWK(es.privateKey)));
    await writeFile(path.join(dir, 'oct.json'), JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' }));
    assert.throws(() => jwtFilter.create(schema.parse({ keys_file: 'private.json' }), filterEnv(dir)), /jwt: keys_file: expected public keys, got .*private\.json holding the private key EC/);
    assert.throws(() => jwtFilter.create(schema.parse({ keys_file: 'oct.json' }), filterEnv(dir)), /a shared secret goes in secret_file/);
    assert.throws(() => jwtFilter.create(schema.parse({ keys_file: 'missing.json' }), filterEnv(dir)), /jwt: keys_file: expected a readable key file, got .*missing\.json: ENOENT/);
    await writeFile(path.join(dir, 'broken.json'), JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'bad' }] }));
    assert.throws(() => jwtFilter.create(schema.parse({ keys_file: 'broken.json' }), filterEnv(dir)), /jwt: keys_file: expected usable public keys, got .*broken\.json whose key bad does not import/);
  });
});
