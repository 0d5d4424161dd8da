// jwt with jwks_url against a JWKS server in the test that rotates its keys: fetched once and cached, a
// token naming the new kid makes the edge fetch again (rotation), a token of the removed key is refused
// afterwards, and a key server that is down gives 503 (not the client's fault), not 401.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { middlewareSchemas } from '../../../config/index.ts';
import { filterContext, filterEnv, type TestEnv } from '../../../../test/support/filter-kit.ts';
import type { LocalResponse } from '../types.ts';
import { jwtFilter } from './index.ts';

const schema = middlewareSchemas.jwt;

describe('jwt filter with a rotating JWKS server', () => {
  let served: JWK[] = [];
  let fetches = 0;
  let down = false;
  const server = http.createServer((req, res) => {
    fetches++;
    if (down) {
      res.writeHead(500);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
    res.end(JSON.stringify({ keys: served }));
  });
  let url: string;
  const keys: Record<string, { privateKey: CryptoKey; publicKey: CryptoKey }> = {};

  const token = (kid: string, sub = 'u-1') => new SignJWT({ sub, aud: 'api' }).setProtectedHeader({ alg: 'ES256', kid }).setExpirationTime('5m').sign(keys[kid].privateKey);
  const publicJwk = async (kid: string): Promise<JWK> => ({ ...(await exportJWK(keys[kid].publicKey)), kid, alg: 'ES256', use: 'sig' });

  before(async () => {
    for (const kid of ['old', 'new']) keys[kid] = await generateKeyPair('ES256', { extractable: true });
    served = [await publicJwk('old')];
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });

  const envs: TestEnv[] = [];
  const newEnv = (): TestEnv => {
    const env = filterEnv();
    envs.push(env);
    return env;
  };

  after(async () => {
    for (const env of envs) for (const service of env.services.values()) await (service as { close?(): Promise<void> }).close?.();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('fetches lazily, caches, follows a rotation, and refuses the removed key', async () => {
    const env = newEnv();
    // cache_size 0: every request is verified against the key set as it stands
    const filter = jwtFilter.create(schema.parse({ jwks_url: url, audience: 'api', jwks_cooldown: '0s', cache_size: 0 }), env);
    assert.equal(fetches, 0, 'building the filter fetches nothing');
    const check = async (jwt: string) => (await filter.onRequest!(filterContext({ headers: { authorization: `Bearer ${jwt}` } }))) as LocalResponse | undefined;

    assert.equal(await check(await token('old')), undefined);
    assert.equal(await check(await token('old', 'u-2')), undefined);
    assert.equal(fetches, 1, 'the key set is fetched once and cached');

    served = [await publicJwk('new')]; // rotation: the old key is withdrawn
    assert.equal(await check(await token('new')), undefined, 'a token of the new kid makes the edge fetch again');
    assert.equal(fetches, 2);
    const refused = await check(await token('old', 'u-3'));
    assert.equal(refused?.status, 401);
    assert.match(refused!.headers[1], /error="invalid_token", error_description="no key matches the token"/);
  });

  it('a second filter for the same URL shares the fetched set', async () => {
    const env = newEnv();
    const settings = schema.parse({ jwks_url: url, jwks_cooldown: '0s' });
    const one = jwtFilter.create(settings, env);
    const two = jwtFilter.create(settings, env);
    const before = fetches;
    const jwt = await token('new');
    assert.equal(await one.onRequest!(filterContext({ headers: { authorization: `Bearer ${jwt}` } })), undefined);
    assert.equal(await two.onRequest!(filterContext({ headers: { authorization: `Bearer ${jwt}` } })), undefined);
    assert.equal(fetches - before, 1);
  });

  it('answers 503 while the key server fails, and warns once per transition', async () => {
    const env = newEnv();
    const filter = jwtFilter.create(schema.parse({ jwks_url: url.replace('jwks.json', 'other.json') }), env);
    down = true;
    const answer = (await filter.onRequest!(filterContext({ headers: { authorization: `Bearer ${await token('new')}` } }))) as LocalResponse;
    assert.equal(answer.status, 503);
    assert.equal(env.counts.get('jwt:keys_unavailable'), 1);
    assert.deepEqual(env.warnings, ['jwt: verification keys unavailable']);
    down = false;
  });
});
