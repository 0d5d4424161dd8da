// Where the jwt filter's verification keys come from: a local file (JWK set, one JWK, or PEM public keys
// and certificates) read once when the filter is built, a shared HMAC secret, or a JWKS URL fetched lazily
// by jose's remote key set (cached for jwks_max_age, refetched when a token names an unknown kid, at most
// once per jwks_cooldown: that refetch is what follows a key rotation).
import { readFileSync } from 'node:fs';
import { createPublicKey, createSecretKey, type JsonWebKey as NodeJwk, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import type { MiddlewareSettings } from '../../../config/index.ts';
import { ConfigError } from '../../../core/index.ts';
import type { FilterEnv } from '../types.ts';

type JwtSettings = MiddlewareSettings['jwt'];

/**
 * What jwtVerify is given: a key-set function, or the HMAC secret as a KeyObject (jose turns a KeyObject
 * into a CryptoKey once and keeps it; raw bytes would be imported again on every verification).
 */
export type VerificationKey = JWTVerifyGetKey | KeyObject;

/** The smallest HMAC secret accepted: 256 bits, the HS256 output size (RFC 7518 3.2). */
const MIN_SECRET_BYTES = 32;

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;

function readSetting(file: string, env: FilterEnv, what: string): Buffer {
  const resolved = path.resolve(env.baseDir, file);
  try {
    return readFileSync(resolved);
  } catch (err) {
    throw new ConfigError([`jwt: ${what} ${resolved}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
}

/** A file's keys as a JWK set: JSON (a set or one key) as it is, PEM blocks converted key by key. */
export function keySetFromText(text: string, where: string): { set: JSONWebKeySet; pem: boolean } {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new ConfigError([`jwt: keys_file ${where}: not valid JSON: ${(err as Error).message}`]);
    }
    const set = (Array.isArray((parsed as JSONWebKeySet).keys) ? parsed : { keys: [parsed] }) as JSONWebKeySet;
    for (const key of set.keys) {
      if (typeof key !== 'object' || key === null || typeof key.kty !== 'string') throw new ConfigError([`jwt: keys_file ${where}: expected JWKs with a kty`]);
      if (key.kty === 'oct') throw new ConfigError([`jwt: keys_file ${where}: a symmetric (oct) key is a secret: use secret_file`]);
      if ('d' in key) throw new ConfigError([`jwt: keys_file ${where}: holds a private key (member d): give the public keys only`]);
      try {
        // jose imports keys lazily, on the first token; a broken key is found here, at load, instead
        createPublicKey({ key: key as NodeJwk, format: 'jwk' });
      } catch (err) {
        throw new ConfigError([`jwt: keys_file ${where}: key ${key.kid ?? key.kty}: ${(err as Error).message}`]);
      }
    }
    return { set, pem: false };
  }
  const keys: JWK[] = [];
  for (const [block, label] of trimmed.matchAll(PEM_BLOCK)) {
    if (label.includes('PRIVATE')) throw new ConfigError([`jwt: keys_file ${where}: holds a private key (${label}): give the public keys only`]);
    try {
      keys.push(createPublicKey(block).export({ format: 'jwk' }) as NodeJwk as JWK);
    } catch (err) {
      throw new ConfigError([`jwt: keys_file ${where}: ${label}: ${(err as Error).message}`]);
    }
  }
  if (keys.length === 0) throw new ConfigError([`jwt: keys_file ${where}: expected a JWK set, a JWK, or PEM public keys / certificates`]);
  return { set: { keys }, pem: true };
}

/**
 * The key source of one filter. A JWKS URL's remote set is one per process and URL (env.shared), so the
 * routes that name it, and the filter objects built again on reload, share one cache and one fetch.
 */
export function verificationKey(settings: JwtSettings, env: FilterEnv): VerificationKey {
  if (settings.secret_file !== undefined) {
    let secret = readSetting(settings.secret_file, env, 'secret_file');
    // a file written by `echo` ends with a newline that is not part of the secret
    if (secret.at(-1) === 0x0a) secret = secret.subarray(0, secret.at(-2) === 0x0d ? -2 : -1);
    if (secret.length < MIN_SECRET_BYTES) throw new ConfigError([`jwt: secret_file ${settings.secret_file}: expected at least ${MIN_SECRET_BYTES} bytes, got ${secret.length}`]);
    return createSecretKey(secret);
  }
  if (settings.keys_file !== undefined) {
    const text = readSetting(settings.keys_file, env, 'keys_file').toString('utf8');
    const { set, pem } = keySetFromText(text, settings.keys_file);
    const local = createLocalJWKSet(set);
    // PEM keys carry no kid: a token's kid cannot select among them, so only alg (and key type) does
    return pem ? (header) => local({ alg: header.alg }) : local;
  }
  const url = settings.jwks_url!;
  const key = `jwt:jwks:${url}:${settings.jwks_max_age}:${settings.jwks_cooldown}:${settings.jwks_timeout}`;
  return env.shared(key, () =>
    createRemoteJWKSet(new URL(url), {
      cacheMaxAge: settings.jwks_max_age,
      cooldownDuration: settings.jwks_cooldown,
      timeoutDuration: settings.jwks_timeout,
    }),
  );
}
