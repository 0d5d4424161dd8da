// The jwt filter end to end: a real switchyard (one worker) verifying tokens signed here with jose against
// a JWKS server in the test that rotates its keys; curl on every downstream (HTTP/1.1, TLS, h2c on both
// HTTP/2 engines, h2 over TLS) to an HTTP/1.1 and an h2c pool. Valid tokens pass with their claims as
// fields; forged and broken ones get 401 with an RFC 6750 challenge, and the recording origins prove that
// none of them reached an upstream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { curl, downstreams, filterEdgeConfig, pools, startRecordingOrigins, urlOf, type RecordingOrigins } from '../../support/filter-e2e.ts';

type Pair = { privateKey: CryptoKey; publicKey: CryptoKey };

describe('jwt filter end to end', { timeout: 120_000 }, () => {
  let origins: RecordingOrigins;
  let edge: RunningSwitchyard;
  const keys: Record<string, Pair> = {};
  let served: JWK[] = [];
  let jwksFetches = 0;
  const jwks = http.createServer((req, res) => {
    jwksFetches++;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
    res.end(JSON.stringify({ keys: served }));
  });

  const publicJwk = async (kid: string): Promise<JWK> => ({ ...(await exportJWK(keys[kid].publicKey)), kid, alg: 'ES256', use: 'sig' });
  const claims = (extra: JWTPayload = {}): JWTPayload => ({ iss: 'https://id.test', aud: 'orders', sub: 'u-42', email: 'ada@example.test', ...extra });
  const sign = (payload: JWTPayload, key: CryptoKey | Uint8Array, alg = 'ES256', kid = 'k1') => {
    let jwt = new SignJWT(payload).setProtectedHeader({ alg, kid }).setIssuedAt();
    if (payload.exp === undefined) jwt = jwt.setExpirationTime('10m');
    return jwt.sign(key);
  };

  before(async () => {
    for (const kid of ['k1', 'k2', 'stranger']) keys[kid] = await generateKeyPair('ES256', { extractable: true });
    served = [await publicJwk('k1')];
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    origins = await startRecordingOrigins();
    const middleware = [
      {
        jwt: {
          jwks_url: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`,
          issuer: 'https://id.test',
          audience: ['orders', 'billing'],
          required_claims: ['sub'],
          jwks_cooldown: '0s',
          clock_tolerance: '5s',
          forward_claims: { sub: 'x-user-id', email: 'x-user-email' },
          forward_token: false,
          realm: 'orders',
        },
      },
    ];
    edge = await runSwitchyard(filterEdgeConfig(origins, middleware));
  });

  after(async () => {
    await edge?.stop();
    await origins?.close();
    jwks.closeAllConnections();
    await new Promise<void>((resolve) => jwks.close(() => resolve()));
  });

  it('a valid token passes on every protocol pair: claims become fields, the token and forged fields do not go up', async () => {
    const token = await sign(claims(), keys.k1.privateKey);
    for (const downstream of downstreams) {
      for (const pool of pools) {
        const before = origins.seen.length;
        const reply = await curl(downstream.flags, urlOf(edge.url, downstream, `/${pool}/orders?page=1`), [`authorization: Bearer ${token}`, 'x-user-id: admin', 'x-user-email: forged@example.test']);
        assert.equal(reply.status, 200, `${downstream.client} → ${pool}: ${reply.body}`);
        assert.equal(origins.seen.length, before + 1);
        const seen = origins.seen.at(-1)!;
        assert.equal(seen.pool, pool);
        assert.equal(seen.headers['x-user-id'], 'u-42', `${downstream.client} → ${pool}`);
        assert.equal(seen.headers['x-user-email'], 'ada@example.test');
        assert.equal(seen.headers.authorization, undefined, 'forward_token: false strips Authorization');
      }
    }
    assert.equal(jwksFetches, 1, 'one worker fetched the key set once and cached it');
  });

  it('a request without a token gets 401 with the bare challenge, and reaches nothing', async () => {
    const before = origins.seen.length;
    for (const downstream of downstreams) {
      for (const pool of pools) {
        const reply = await curl(downstream.flags, urlOf(edge.url, downstream, `/${pool}/orders`), ['x-user-id: admin']);
        assert.equal(reply.status, 401, `${downstream.client} → ${pool}`);
        assert.equal(reply.headers['www-authenticate'], 'Bearer realm="orders"');
        assert.equal(reply.headers['cache-control'], 'no-store');
      }
    }
    assert.equal(origins.seen.length, before);
  });

  it('forged and broken tokens get 401 invalid_token on every protocol pair, and none reaches an origin', async () => {
    const now = Math.floor(Date.now() / 1000);
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const publicPem = await exportSPKI(rsa.publicKey);
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const forged: [string, string, RegExp][] = [
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims({ exp: now + 600 }))}.`, /algorithm is not accepted|malformed|unsupported/],
      ['signed by a stranger key under a known kid', await sign(claims(), keys.stranger.privateKey), /signature does not verify/],
      ['expired', await sign(claims({ exp: now - 60 }), keys.k1.privateKey), /has expired/],
      ['nbf in the future', await sign(claims({ nbf: now + 3600 }), keys.k1.privateKey), /not valid yet/],
      ['wrong audience', await sign(claims({ aud: 'users' }), keys.k1.privateKey), /the aud claim/],
      ['wrong issuer', await sign(claims({ iss: 'https://evil.test' }), keys.k1.privateKey), /the iss claim/],
      ['three parts of garbage', 'aGVsbG8.d29ybGQ.Zm9v', /malformed/],
      ['huge', `${'A'.repeat(9000)}.${'B'.repeat(100)}.C`, /too large/],
      ['HS256 with the public key as secret (key confusion)', await sign(claims(), new TextEncoder().encode(publicPem), 'HS256'), /algorithm is not accepted/],
      ['HS256 with the JWK as secret (key confusion)', await sign(claims(), new TextEncoder().encode(JSON.stringify(await publicJwk('k1'))), 'HS256'), /algorithm is not accepted/],
    ];
    const before = origins.seen.length;
    for (const [what, token, description] of forged) {
      for (const downstream of downstreams) {
        for (const pool of pools) {
          const reply = await curl(downstream.flags, urlOf(edge.url, downstream, `/${pool}/orders`), [`authorization: Bearer ${token}`]);
          assert.equal(reply.status, 401, `${what}, ${downstream.client} → ${pool}: ${reply.body}`);
          assert.match(reply.headers['www-authenticate'], /^Bearer realm="orders", error="invalid_token", error_description="[^"]+"$/);
          assert.match(reply.headers['www-authenticate'], description, what);
        }
      }
    }
    assert.equal(origins.seen.length, before, 'no forged token reached an origin');
    for (const reason of ['jwt:expired', 'jwt:not_yet_valid', 'jwt:signature', 'jwt:claims', 'jwt:malformed', 'jwt:too_large', 'jwt:algorithm']) {
      const line = await edge.waitForLine((entry) => entry.log === 'access' && entry.reason === reason);
      assert.equal(line.status, 401, reason);
    }
  });

  it('follows a key rotation: the new kid is fetched and accepted, the withdrawn key refused', async () => {
    served = [await publicJwk('k2')];
    const fetchesBefore = jwksFetches;
    const seenBefore = origins.seen.length;
    const fresh = await sign(claims({ sub: 'u-rotated' }), keys.k2.privateKey, 'ES256', 'k2');
    for (const downstream of downstreams) {
      const reply = await curl(downstream.flags, urlOf(edge.url, downstream, '/h1/orders'), [`authorization: Bearer ${fresh}`]);
      assert.equal(reply.status, 200, `${downstream.client}: ${reply.body}`);
      assert.equal(origins.seen.at(-1)!.headers['x-user-id'], 'u-rotated');
    }
    assert.equal(jwksFetches, fetchesBefore + 1, 'the unknown kid made the edge fetch the set again, once');
    const old = await sign(claims({ sub: 'u-old' }), keys.k1.privateKey);
    for (const downstream of downstreams) {
      const reply = await curl(downstream.flags, urlOf(edge.url, downstream, '/h2/orders'), [`authorization: Bearer ${old}`]);
      assert.equal(reply.status, 401, downstream.client);
      assert.match(reply.headers['www-authenticate'], /no key matches the token/);
    }
    assert.equal(origins.seen.length, seenBefore + downstreams.length);
  });

  it('a token in the cookie is not read unless the filter names the cookie', async () => {
    const token = await sign(claims(), keys.k2.privateKey, 'ES256', 'k2');
    const reply = await curl(['--http1.1'], edge.url('plain', '/h1/orders'), [`cookie: session=${token}`]);
    assert.equal(reply.status, 401);
    assert.equal(reply.headers['www-authenticate'], 'Bearer realm="orders"');
  });

  it('with keys_file (PEM) and cookie: the session cookie carries the token on every protocol pair', async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-jwt-e2e-'));
    await writeFile(path.join(dir, 'keys.pem'), await exportSPKI(rsa.publicKey));
    const cookieEdge = await runSwitchyard(filterEdgeConfig(origins, [{ jwt: { keys_file: path.join(dir, 'keys.pem'), cookie: 'session', forward_claims: { sub: 'x-user-id' } } }]));
    try {
      const token = await new SignJWT({ sub: 'u-cookie' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('5m').sign(rsa.privateKey);
      const forged = await new SignJWT({ sub: 'u-cookie' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('5m').sign((await generateKeyPair('RS256')).privateKey);
      for (const downstream of downstreams) {
        for (const pool of pools) {
          const reply = await curl(downstream.flags, urlOf(cookieEdge.url, downstream, `/${pool}/me`), [`cookie: theme=dark; session=${token}`]);
          assert.equal(reply.status, 200, `${downstream.client} → ${pool}: ${reply.body}`);
          assert.equal(origins.seen.at(-1)!.headers['x-user-id'], 'u-cookie');
          const before = origins.seen.length;
          const refused = await curl(downstream.flags, urlOf(cookieEdge.url, downstream, `/${pool}/me`), [`cookie: session=${forged}`]);
          assert.equal(refused.status, 401);
          assert.match(refused.headers['www-authenticate'], /signature does not verify/);
          assert.equal(origins.seen.length, before);
        }
      }
      // HTTP/2 clients (browsers) may send each cookie in a field of its own (RFC 9113 8.2.3)
      for (const downstream of downstreams) {
        const split = await curl(downstream.flags, urlOf(cookieEdge.url, downstream, '/h1/me'), ['cookie: theme=dark', `cookie: session=${token}`]);
        assert.equal(split.status, 200, `${downstream.client}, cookie split over two fields: ${split.body}`);
      }
    } finally {
      await cookieEdge.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
