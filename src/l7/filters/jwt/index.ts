// `jwt`: verifies the request's bearer token (or cookie) with jose before the request goes upstream:
// signature against the configured keys, algorithm in the allowed list (never `none`; HMAC only with a
// secret_file, so a public key can never serve as an HMAC secret), exp / nbf with clock_tolerance, iss,
// aud and required claims. A verified token's claims are stashed for onUpstreamRequest, which forwards
// the chosen ones as headers and keeps or strips Authorization.
import type { JWTPayload, JWTVerifyOptions } from 'jose';
import type { MiddlewareSettings } from '../../../config/index.ts';
import type { FilterContext, FilterEnv, FilterFactory, HeaderWriter, HttpFilter, RequestVerdict } from '../types.ts';
import { JwtAnswers, type Refusal } from './answers.ts';
import { verificationKey } from './keys.ts';
import { findToken, looksLikeJws } from './token.ts';
import { VerifiedTokens } from './verified-cache.ts';
import { forwardClaims } from './forward.ts';

type JwtSettings = MiddlewareSettings['jwt'];

const ASYMMETRIC: JWTVerifyOptions['algorithms'] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
const HMAC: JWTVerifyOptions['algorithms'] = ['HS256', 'HS384', 'HS512'];

/** jose error codes that mean the key source failed (a JWKS fetch), not the token. */
const KEY_SOURCE_ERRORS = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JOSE_GENERIC', 'ERR_JWKS_INVALID']);

/** Maps a jose error to the refusal it means, or null when the key source failed. */
function refusalOf(err: unknown, answers: JwtAnswers): ReturnType<JwtAnswers['of']> | null {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return answers.of('expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (err as { claim?: string }).claim ?? '';
      return claim === 'nbf' ? answers.of('not_yet_valid') : answers.claim(claim);
    }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return answers.of('algorithm');
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return answers.of('no_key');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return answers.of('signature');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWK_INVALID':
      return answers.of('malformed');
    case 'ERR_JOSE_NOT_SUPPORTED':
      return answers.of('unsupported');
  }
  if (code !== undefined && KEY_SOURCE_ERRORS.has(code)) return null;
  // fetch's own failures (connection refused, DNS) arrive as TypeError from the remote key set
  if (err instanceof TypeError) return null;
  return answers.of('malformed');
}

function create(settings: JwtSettings, env: FilterEnv): HttpFilter {
  const source = verificationKey(settings, env);
  // jose is imported when the first jwt filter is built (keys.ts says why); the first verification waits for it
  const ready = import('jose').then((jose) => ({ jwtVerify: jose.jwtVerify, key: source(jose) }));
  ready.catch(() => {}); // a failure shows on the requests that wait for it
  const options: JWTVerifyOptions = {
    algorithms: settings.algorithms ?? (settings.secret_file !== undefined ? HMAC : ASYMMETRIC),
    clockTolerance: settings.clock_tolerance / 1000,
    ...(settings.issuer !== undefined ? { issuer: settings.issuer } : {}),
    ...(settings.audience !== undefined ? { audience: settings.audience } : {}),
    ...(settings.required_claims.length > 0 ? { requiredClaims: settings.required_claims } : {}),
  };
  const answers = new JwtAnswers(settings.realm);
  const verified = new VerifiedTokens(settings.cache_size, settings.cache_ttl, env.now);
  const stats = env.stats('jwt');
  const maxToken = settings.max_token_size;
  const cookie = settings.cookie;
  const forwards = Object.entries(settings.forward_claims);
  // claims are kept on the request only for onUpstreamRequest to forward: without forward_claims, a
  // verified request stashes (and allocates) nothing
  const keepClaims = forwards.length > 0;
  let keysFailing = false;

  const refuse = (ctx: FilterContext, reason: Refusal): RequestVerdict => {
    stats.count(reason === 'missing' ? 'missing' : 'invalid');
    ctx.setReason(`jwt:${reason}`);
    return answers.of(reason);
  };

  const verify = (ctx: FilterContext, token: string): Promise<RequestVerdict> => {
    const started = env.now();
    // jwtVerify has one overload for a key-set function and one for a key: the branch picks it
    const run = ready.then(({ jwtVerify, key }) => (typeof key === 'function' ? jwtVerify(token, key, options) : jwtVerify(token, key, options)));
    return run.then(
      ({ payload }) => {
        stats.observe('verify', (env.now() - started) / 1000);
        stats.count('verified');
        if (keysFailing) {
          keysFailing = false;
          env.warn('jwt: verification keys reachable again', { route: ctx.routeName });
        }
        verified.set(token, payload, Date.now());
        if (keepClaims) ctx.stash(filter, payload);
        return undefined;
      },
      (err: unknown) => {
        const answer = refusalOf(err, answers);
        if (answer !== null) {
          stats.count('invalid');
          ctx.setReason(answers.codeOf(answer));
          return answer;
        }
        stats.count('keys_unavailable');
        ctx.setReason('jwt:keys_unavailable');
        if (!keysFailing) {
          keysFailing = true;
          env.warn('jwt: verification keys unavailable', { route: ctx.routeName, url: settings.jwks_url, error: (err as Error).message });
        }
        return answers.unavailable;
      },
    );
  };

  const filter: { -readonly [K in keyof HttpFilter]: HttpFilter[K] } = {
    name: 'jwt',
    onRequest(ctx) {
      const token = findToken(ctx, cookie);
      if (token === undefined) return refuse(ctx, 'missing');
      if (token.length > maxToken) return refuse(ctx, 'too_large');
      if (!looksLikeJws(token)) return refuse(ctx, 'malformed');
      const claims = verified.get(token);
      if (claims !== undefined) {
        stats.count('cached');
        if (keepClaims) ctx.stash(filter, claims);
        return undefined;
      }
      return verify(ctx, token);
    },
  };
  if (forwards.length > 0 || !settings.forward_token) {
    const stripToken = !settings.forward_token;
    filter.onUpstreamRequest = (ctx: FilterContext, head: HeaderWriter) => {
      if (stripToken) head.remove('authorization');
      forwardClaims(forwards, ctx.stashed(filter) as JWTPayload | undefined, head, stats);
    };
  }
  return filter;
}

export const jwtFilter = { name: 'jwt', create } satisfies FilterFactory<'jwt'>;
