// Where the jwt filter's verification keys come from: a local file (JWK set, one JWK, or PEM public keys
// and certificates) read once when the filter is built, a shared HMAC secret, or a JWKS URL fetched lazily
// by jose's remote key set (cached for jwks_max_age, refetched when a token names an unknown kid, at most
// once per jwks_cooldown: that refetch is what follows a key rotation). Files are read by the same
// functions `switchyard check` uses (core/jwt-key-files.ts). jose is imported when the first jwt filter is
// built and undici with the first JWKS fetch, not with the pipeline: a worker without a jwt filter never
// loads them (~20 MB, docs/operations.md, "Memory"); the files are read and checked at build all the same.
import { createSecretKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import type * as Jose from 'jose';
import type { FetchImplementation, JWK, JWTVerifyGetKey } from 'jose';
import type * as Undici from 'undici';
import type { MiddlewareSettings } from '../../../config/index.ts';
import { readJwtKeys, readJwtSecret } from '../../../core/index.ts';
import { ConfigError } from '../../../core/index.ts';
import type { FilterEnv } from '../types.ts';

type JwtSettings = MiddlewareSettings['jwt'];

/**
 * What jwtVerify is given: a key-set function, or the HMAC secret as a KeyObject (jose turns a KeyObject
 * into a CryptoKey once and keeps it; raw bytes would be imported again on every verification).
 */
export type VerificationKey = JWTVerifyGetKey | KeyObject;

/** Builds the key with jose once it is loaded; files have been read (and refused) before. */
export type KeySource = (jose: typeof Jose) => VerificationKey;

/**
 * The key source of one filter: its files are read now (a bad one throws a ConfigError at build), the jose
 * objects are made by the returned function. A JWKS URL's remote set is one per process and URL
 * (env.shared), so the routes that name it, and the filter objects built again on reload, share one cache
 * and one fetch.
 */
export function verificationKey(settings: JwtSettings, env: FilterEnv): KeySource {
  if (settings.secret_file !== undefined) {
    const secret = readJwtSecret(path.resolve(env.baseDir, settings.secret_file));
    if (typeof secret === 'string') throw new ConfigError([`jwt: secret_file: ${secret}`]);
    const key = createSecretKey(secret);
    return () => key;
  }
  if (settings.keys_file !== undefined) {
    const file = readJwtKeys(path.resolve(env.baseDir, settings.keys_file));
    if (typeof file === 'string') throw new ConfigError([`jwt: keys_file: ${file}`]);
    return (jose) => {
      const local = jose.createLocalJWKSet({ keys: file.keys as JWK[] });
      // PEM keys carry no kid: a token's kid cannot select among them, so only alg (and key type) does
      return file.pem ? (header) => local({ alg: header.alg }) : local;
    };
  }
  const url = settings.jwks_url!;
  const key = `jwt:jwks:${url}:${settings.jwks_max_age}:${settings.jwks_cooldown}:${settings.jwks_timeout}`;
  // key fetches go through a dispatcher of the filters' own (closed with the other shared services at
  // shutdown), not the process-wide one global fetch would use
  const fetcher = env.shared('jwt:jwks-agent', () => new JwksFetcher());
  return (jose) => env.shared(key, () =>
    jose.createRemoteJWKSet(new URL(url), {
      cacheMaxAge: settings.jwks_max_age,
      cooldownDuration: settings.jwks_cooldown,
      timeoutDuration: settings.jwks_timeout,
      [jose.customFetch]: fetcher.fetch,
    }),
  );
}

/** The JWKS fetches' undici Agent, made (and undici imported) with the first fetch; close() at shutdown. */
class JwksFetcher {
  private agent: Promise<{ undici: typeof Undici; agent: Undici.Agent }> | undefined;

  readonly fetch: FetchImplementation = (resource, options) => {
    this.agent ??= import('undici').then((undici) => ({ undici, agent: new undici.Agent({ connections: 4, keepAliveTimeout: 30_000 }) }));
    return this.agent.then(({ undici, agent }) => undici.fetch(resource, { method: options.method, redirect: options.redirect, signal: options.signal, headers: [...options.headers], dispatcher: agent }) as unknown as Promise<Response>);
  };

  async close(): Promise<void> {
    const made = this.agent;
    this.agent = undefined;
    if (made !== undefined) await (await made).agent.close();
  }
}
