// The login flow's steps, each a LocalResponse the edge writes: the redirect to the provider (with the
// state cookie), the callback (state, code exchange, ID token and nonce checks, session cookie), logout,
// and the refresh of a session's tokens.
import { timingSafeEqual } from 'node:crypto';
import type { FilterContext, LocalResponse } from '../types.ts';
import { codeChallenge, randomToken } from './pkce.ts';
import { MAX_COOKIE_VALUE, readState, safeReturnTo, sealSession, sealState, type Session } from './cookies.ts';
import { pickClaims } from './claims.ts';
import { TokenRefused, type TokenSet } from './provider.ts';
import { REFRESH_GRACE_MS, STATE_SECONDS, epochSeconds, type Runtime } from './runtime.ts';

const NO_STORE = ['cache-control', 'no-store'];

export function plain(status: number, text: string, extra: readonly string[] = []): LocalResponse {
  return { status, headers: [...NO_STORE, ...extra], body: `${text}\n` };
}

/** The session cookie's Set-Cookie value, Max-Age bounded by session_max_age. */
export function sessionCookie(rt: Runtime, ctx: FilterContext, value: string, session: Session): string {
  const maxAge = Math.max(0, session.start + rt.settings.sessionMaxAge - epochSeconds());
  return `${rt.settings.cookie}=${value}${rt.settings.attributes.session}; Max-Age=${maxAge}${rt.secureFor(ctx.scheme)}`;
}

export const clearSession = (rt: Runtime, ctx: FilterContext): string => `${rt.settings.cookie}=${rt.settings.attributes.clearSession}${rt.secureFor(ctx.scheme)}`;
const clearState = (rt: Runtime, ctx: FilterContext): string => `${rt.settings.stateCookie}=${rt.settings.attributes.clearState}${rt.secureFor(ctx.scheme)}`;
const origin = (ctx: FilterContext): string => `${ctx.scheme}://${ctx.host}`;

/** A browser navigation without a session: 302 to the authorization endpoint, the login bound to a state cookie. */
export async function startLogin(rt: Runtime, ctx: FilterContext, extraCookie: string | undefined): Promise<LocalResponse> {
  const [metadata, keys] = await Promise.all([rt.provider.metadata(), rt.loadKeys()]);
  const state = randomToken();
  const verifier = randomToken();
  const nonce = randomToken();
  const returnTo = safeReturnTo(ctx.query === '' ? ctx.path : `${ctx.path}?${ctx.query}`);
  const sealed = sealState(keys.state, { state, verifier, nonce, returnTo, exp: epochSeconds() + STATE_SECONDS });
  const target = new URL(metadata.authorization_endpoint);
  const params = target.searchParams;
  params.set('response_type', 'code');
  params.set('client_id', rt.settings.clientId);
  params.set('redirect_uri', `${origin(ctx)}${rt.settings.redirectPath}`);
  params.set('scope', rt.settings.scope);
  params.set('state', state);
  params.set('nonce', nonce);
  params.set('code_challenge', codeChallenge(verifier));
  params.set('code_challenge_method', 'S256');
  rt.decide(ctx, 'login_redirect');
  const headers = [...NO_STORE, 'location', target.href, 'set-cookie', `${rt.settings.stateCookie}=${sealed}${rt.settings.attributes.state}${rt.secureFor(ctx.scheme)}`];
  if (extraCookie !== undefined) headers.push('set-cookie', extraCookie);
  return { status: 302, headers, body: '' };
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The provider's redirect back: checks the state, exchanges the code, verifies the ID token, sets the session. */
export async function callback(rt: Runtime, ctx: FilterContext): Promise<LocalResponse> {
  if (ctx.method !== 'GET') return plain(405, 'method not allowed', ['allow', 'GET']);
  const keys = await rt.loadKeys();
  const now = epochSeconds();
  const login = readState(keys.state, ctx.cookie(rt.settings.stateCookie), now);
  const refuse = (status: number, text: string, event: string): LocalResponse => {
    rt.decide(ctx, event);
    return plain(status, text, ['set-cookie', clearState(rt, ctx)]);
  };
  if (login === undefined) return refuse(400, 'login state missing or expired: start again', 'callback_no_state');
  const query = new URLSearchParams(ctx.query);
  if (!sameToken(query.get('state') ?? '', login.state)) return refuse(400, 'login state does not match', 'callback_bad_state');
  const error = query.get('error');
  if (error !== null) return refuse(401, `login refused by the provider: ${error.replace(/[^\w.-]/g, '').slice(0, 64)}`, 'login_refused');
  const code = query.get('code');
  if (code === null || code === '') return refuse(400, 'callback without a code', 'callback_no_code');

  let tokens: TokenSet;
  const metadata = await rt.provider.metadata();
  // RFC 9207: a provider that names itself in the callback must be ours (mix-up defence)
  const iss = query.get('iss');
  if (iss !== null && iss !== metadata.issuer) return refuse(400, 'callback from another issuer', 'callback_bad_state');
  try {
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${origin(ctx)}${rt.settings.redirectPath}`, code_verifier: login.verifier });
    tokens = await rt.provider.token(metadata, form, rt.settings.clientId, await rt.clientSecret());
  } catch (failure) {
    if (failure instanceof TokenRefused) return refuse(401, 'the provider refused the code (used, expired or not ours)', 'login_failed');
    rt.warn('token endpoint unreachable', failure);
    return refuse(502, 'identity provider unreachable', 'provider_error');
  }
  if (tokens.id_token === undefined) return refuse(502, 'the provider returned no ID token', 'login_failed');
  let claims: Record<string, unknown>;
  try {
    claims = await rt.provider.verifyIdToken(tokens.id_token, metadata, rt.settings.clientId);
  } catch (failure) {
    rt.warn('ID token refused', failure);
    return refuse(401, 'ID token refused', 'login_failed');
  }
  if (typeof claims.nonce !== 'string' || !sameToken(claims.nonce, login.nonce)) return refuse(401, 'ID token nonce does not match', 'login_failed');
  if (typeof claims.sub !== 'string' || claims.sub === '') return refuse(401, 'ID token has no subject', 'login_failed');

  const session: Session = { sub: claims.sub, claims: pickClaims(claims, rt.settings.claimNames), exp: expiry(tokens, claims, now), start: now };
  if (tokens.refresh_token !== undefined) session.rt = tokens.refresh_token;
  const sealed = sealSession(keys.session, session);
  if (sealed.length > MAX_COOKIE_VALUE) {
    rt.warn('session too large for a cookie (forward fewer claims)', new Error(`${sealed.length} bytes`));
    return refuse(502, 'session too large for a cookie', 'login_failed');
  }
  rt.decide(ctx, 'login');
  return { status: 302, headers: [...NO_STORE, 'location', safeReturnTo(login.returnTo), 'set-cookie', sessionCookie(rt, ctx, sealed, session), 'set-cookie', clearState(rt, ctx)], body: '' };
}

/** When tokens expire: expires_in of the token answer, else the ID token's exp. */
function expiry(tokens: TokenSet, claims: Record<string, unknown>, now: number): number {
  if (tokens.expires_in !== undefined && tokens.expires_in > 0) return now + Math.floor(tokens.expires_in);
  // neither: a short life, so the session is checked with the provider again soon
  return typeof claims.exp === 'number' ? claims.exp : now + 300;
}

/** Clears the session; ends it at the provider too when it has an end_session_endpoint (RP-initiated logout). */
export async function logout(rt: Runtime, ctx: FilterContext): Promise<LocalResponse> {
  if (ctx.method !== 'GET' && ctx.method !== 'POST') return plain(405, 'method not allowed', ['allow', 'GET, POST']);
  rt.decide(ctx, 'logout');
  let location = rt.settings.postLogoutRedirect;
  try {
    const metadata = await rt.provider.metadata();
    if (metadata.end_session_endpoint !== undefined) {
      const target = new URL(metadata.end_session_endpoint);
      target.searchParams.set('client_id', rt.settings.clientId);
      target.searchParams.set('post_logout_redirect_uri', `${origin(ctx)}${rt.settings.postLogoutRedirect}`);
      location = target.href;
    }
  } catch (failure) {
    // the local session is cleared all the same
    rt.warn('discovery failed during logout', failure);
  }
  return { status: 302, headers: [...NO_STORE, 'location', location, 'set-cookie', clearSession(rt, ctx), 'set-cookie', clearState(rt, ctx)], body: '' };
}

/**
 * New tokens for a session near expiry, one refresh per refresh token in this process: concurrent
 * requests of the session share it, and requests still carrying the replaced cookie during the next
 * REFRESH_GRACE_MS get its result too (a rotated refresh token cannot be used twice). Undefined when
 * the provider refuses (the session is over); rejects when it cannot be reached.
 */
export function refresh(rt: Runtime, session: Session & { rt: string }): Promise<Session | undefined> {
  const known = rt.refreshes.get(session.rt);
  if (known !== undefined) return known;
  const running = (async (): Promise<Session | undefined> => {
    const metadata = await rt.provider.metadata();
    const now = epochSeconds();
    let tokens: TokenSet;
    try {
      tokens = await rt.provider.token(metadata, new URLSearchParams({ grant_type: 'refresh_token', refresh_token: session.rt }), rt.settings.clientId, await rt.clientSecret());
    } catch (failure) {
      if (failure instanceof TokenRefused) {
        rt.stats.count('refresh_refused');
        return undefined;
      }
      throw failure;
    }
    let claims = session.claims;
    let payload: Record<string, unknown> = {};
    if (tokens.id_token !== undefined) {
      payload = await rt.provider.verifyIdToken(tokens.id_token, metadata, rt.settings.clientId);
      if (payload.sub !== session.sub) return undefined;
      claims = pickClaims(payload, rt.settings.claimNames);
    }
    rt.stats.count('refresh');
    const renewed: Session = { sub: session.sub, claims, exp: expiry(tokens, payload, now), start: session.start };
    const next = tokens.refresh_token ?? session.rt;
    renewed.rt = next;
    return renewed;
  })();
  rt.refreshes.set(session.rt, running);
  const forget = () => setTimeout(() => rt.refreshes.delete(session.rt), REFRESH_GRACE_MS).unref();
  running.then(forget, () => rt.refreshes.delete(session.rt));
  return running;
}
