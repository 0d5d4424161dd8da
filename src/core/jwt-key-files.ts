// The jwt filter's key material read from files: public keys (a JWK set, one JWK, or PEM public keys and
// certificates) and HMAC secrets. One reader for `switchyard check` (files.ts, at load) and for the filter
// when it is built, so a file check accepts is one the filter can use. Each returns the keys or a problem
// phrased "expected X, got Y".
import { readFileSync } from 'node:fs';
import { createPublicKey, type JsonWebKey } from 'node:crypto';

/** The smallest HMAC secret accepted: 256 bits, the HS256 output size (RFC 7518 3.2). */
export const MIN_JWT_SECRET_BYTES = 32;

export interface JwtKeyFile {
  keys: JsonWebKey[];
  /** The keys came from PEM: they carry no kid. */
  pem: boolean;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

const errnoOf = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** The public keys in `text`, or why there are none usable. */
export function parseJwtKeys(text: string, file: string): JwtKeyFile | string {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      return `expected a JWK set in JSON, got ${file}: ${(err as Error).message}`;
    }
    const keys = (Array.isArray((parsed as { keys?: unknown }).keys) ? (parsed as { keys: unknown[] }).keys : [parsed]) as JsonWebKey[];
    for (const key of keys) {
      if (typeof key !== 'object' || key === null || typeof key.kty !== 'string') return `expected JWKs with a kty, got ${file} holding ${JSON.stringify(key)?.slice(0, 40)}`;
      const name = (key as { kid?: string }).kid ?? key.kty;
      if (key.kty === 'oct') return `expected public keys, got ${file} holding a symmetric (oct) key ${name}: a shared secret goes in secret_file`;
      if (key.d !== undefined) return `expected public keys, got ${file} holding the private key ${name}: give the public keys only`;
      try {
        // jose imports keys lazily, on the first token: a broken key is found here, at load, instead
        createPublicKey({ key, format: 'jwk' });
      } catch (err) {
        return `expected usable public keys, got ${file} whose key ${name} does not import: ${(err as Error).message}`;
      }
    }
    if (keys.length === 0) return `expected at least one key, got ${file} holding an empty set`;
    return { keys, pem: false };
  }
  const keys: JsonWebKey[] = [];
  for (const [block, label] of trimmed.matchAll(PEM_BLOCK)) {
    if (label.includes('PRIVATE')) return `expected public keys, got ${file} holding a ${label}: give the public keys only`;
    try {
      keys.push(createPublicKey(block).export({ format: 'jwk' }));
    } catch (err) {
      return `expected PEM public keys or certificates, got ${file} whose ${label} does not import: ${(err as Error).message}`;
    }
  }
  if (keys.length === 0) return `expected a JWK set, a JWK, or PEM public keys / certificates, got ${file} holding none`;
  return { keys, pem: true };
}

/** The keys of the file at `file` (absolute), read synchronously (load time only), or the problem. */
export function readJwtKeys(file: string): JwtKeyFile | string {
  try {
    return parseJwtKeys(readFileSync(file, 'utf8'), file);
  } catch (err) {
    return `expected a readable key file, got ${file}: ${errnoOf(err)}`;
  }
}

/** The HMAC secret in the file at `file` (absolute), a trailing newline dropped, or the problem. */
export function readJwtSecret(file: string): Buffer | string {
  let secret: Buffer;
  try {
    secret = readFileSync(file);
  } catch (err) {
    return `expected a readable secret file, got ${file}: ${errnoOf(err)}`;
  }
  // a file written by `echo` ends with a newline that is not part of the secret
  if (secret.at(-1) === 0x0a) secret = secret.subarray(0, secret.at(-2) === 0x0d ? -2 : -1);
  if (secret.length < MIN_JWT_SECRET_BYTES) return `expected a secret of at least ${MIN_JWT_SECRET_BYTES} bytes, got ${secret.length} in ${file}`;
  return secret;
}
