// `jwt`: verify a bearer token (or a cookie) at the edge before the request goes upstream.
import { z } from 'zod';
import { duration, size } from './common.ts';
import { headerName } from './header-fields.ts';

/** The asymmetric JWS algorithms (the default): a public key can verify, never sign. */
export const jwtAsymmetricAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
/** HMAC algorithms: accepted only with `secret_file` (a shared secret, not a public key). */
export const jwtHmacAlgorithms = ['HS256', 'HS384', 'HS512'] as const;
export type JwtAlgorithm = (typeof jwtAsymmetricAlgorithms)[number] | (typeof jwtHmacAlgorithms)[number];

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((value) => (typeof value === 'string' ? [value] : value));

const cookieName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: 'expected a cookie name (token characters)' });

const jwksUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

export const jwtFilterSchema = z
  .strictObject({
    /** A JWK set (`{"keys": [...]}`), one JWK, or PEM public keys / certificates; read at load. */
    keys_file: z.string().min(1).optional(),
    /** A JWKS endpoint: fetched on first use, cached, refetched when a token names an unknown kid. */
    jwks_url: jwksUrl.optional(),
    /** A shared HMAC secret (HS256/384/512), read at load; at least 32 bytes. */
    secret_file: z.string().min(1).optional(),
    /** Accepted `iss` values. */
    issuer: oneOrMany.optional(),
    /** Accepted `aud` values (the token must name one of them). */
    audience: oneOrMany.optional(),
    /** Claims a token must carry (any value). */
    required_claims: z.array(z.string().min(1)).default([]),
    /** Accepted `alg` values; default: the asymmetric ones, or the HMAC ones with secret_file. Never `none`. */
    algorithms: z.array(z.enum([...jwtAsymmetricAlgorithms, ...jwtHmacAlgorithms], { error: `expected algorithms among ${[...jwtAsymmetricAlgorithms, ...jwtHmacAlgorithms].join(', ')} (never none)` })).min(1).optional(),
    /** Leeway for exp / nbf / iat against the edge's clock. */
    clock_tolerance: duration.default(30_000),
    /** Read the token from this cookie when the request has no `Authorization: Bearer`. */
    cookie: cookieName.optional(),
    /** Claim → request header sent upstream (strings and numbers; the client's own fields of those names are dropped). */
    forward_claims: z.record(z.string().min(1), headerName).default({}),
    /** Pass the client's Authorization upstream (false strips it). */
    forward_token: z.boolean().default(true),
    /** The realm named in WWW-Authenticate. */
    realm: z.string().regex(/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/, { message: 'expected printable ASCII without quotes or backslashes' }).default('switchyard'),
    /** Tokens longer than this are refused without parsing. */
    max_token_size: size.default(8192),
    /** Verified tokens remembered (until their exp) so a repeated token skips the signature check; 0 turns it off. */
    cache_size: z.number().int().min(0).default(4096),
    /** The longest a verified token is remembered (also bounds how long a token signed by a key removed from the set still passes). */
    cache_ttl: duration.default(60_000),
    /** jwks_url: the longest a fetched key set is used before it is fetched again. */
    jwks_max_age: duration.default(600_000),
    /** jwks_url: the least time between two fetches caused by unknown kids (rotation). */
    jwks_cooldown: duration.default(30_000),
    /** jwks_url: how long one fetch may take. */
    jwks_timeout: duration.default(5_000),
  })
  .superRefine((settings, ctx) => {
    const sources = (['keys_file', 'jwks_url', 'secret_file'] as const).filter((key) => settings[key] !== undefined);
    if (sources.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `expected exactly one of keys_file, jwks_url or secret_file, got ${sources.length === 0 ? 'none' : sources.join(' and ')}` });
      return;
    }
    const hmac = settings.secret_file !== undefined;
    for (const alg of settings.algorithms ?? []) {
      const isHmac = (jwtHmacAlgorithms as readonly string[]).includes(alg);
      if (isHmac && !hmac) ctx.addIssue({ code: 'custom', path: ['algorithms'], message: `expected asymmetric algorithms with ${sources[0]}, got ${alg} (HMAC needs secret_file; allowing it with public keys lets a public key forge tokens)` });
      if (!isHmac && hmac) ctx.addIssue({ code: 'custom', path: ['algorithms'], message: `expected HS256, HS384 or HS512 with secret_file, got ${alg}` });
    }
    if (settings.jwks_url === undefined && (settings.jwks_max_age !== 600_000 || settings.jwks_cooldown !== 30_000 || settings.jwks_timeout !== 5_000)) {
      ctx.addIssue({ code: 'custom', message: 'expected jwks_max_age, jwks_cooldown and jwks_timeout only with jwks_url' });
    }
  });
