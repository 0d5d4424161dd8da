// What the two cookies hold, checked field by field after unsealing (a sealed value is ours, but an
// older format or a value past its time is still refused), and how they are written.
import { seal, unseal } from './seal.ts';

/** The login in flight: bound to the browser by the state cookie, valid a few minutes. */
export interface LoginState {
  state: string;
  verifier: string;
  nonce: string;
  /** Where to go after login: a same-origin relative path (checked again when used). */
  returnTo: string;
  /** Epoch seconds after which the callback is refused. */
  exp: number;
}

/** A logged-in user: only the claims forwarded upstream, plus what refreshing needs. */
export interface Session {
  sub: string;
  /** The forwarded claims (by claim name), as the ID token had them. */
  claims: Record<string, unknown>;
  /** Refresh token, when the provider gave one. */
  rt?: string;
  /** Epoch seconds: when the tokens expire (refresh before, log in again after). */
  exp: number;
  /** Epoch seconds: when the login happened (session_max_age counts from here). */
  start: number;
}

export const STATE_PURPOSE = 'state';
export const SESSION_PURPOSE = 'session';
/** Browsers keep cookies up to 4096 bytes (name, value and attributes): the session must fit. */
export const MAX_COOKIE_VALUE = 3800;

const isString = (value: unknown): value is string => typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

export function readState(key: Buffer, value: string | undefined, nowSeconds: number): LoginState | undefined {
  if (value === undefined) return undefined;
  const data = unseal(key, STATE_PURPOSE, value) as Partial<LoginState> | undefined;
  if (data === undefined || data === null || typeof data !== 'object') return undefined;
  if (!isString(data.state) || !isString(data.verifier) || !isString(data.nonce) || !isString(data.returnTo) || !isNumber(data.exp)) return undefined;
  if (data.exp <= nowSeconds) return undefined;
  return { state: data.state, verifier: data.verifier, nonce: data.nonce, returnTo: data.returnTo, exp: data.exp };
}

export function readSession(key: Buffer, value: string | undefined, nowSeconds: number, maxAgeSeconds: number): Session | undefined {
  if (value === undefined || value === '') return undefined;
  const data = unseal(key, SESSION_PURPOSE, value) as Partial<Session> | undefined;
  if (data === undefined || data === null || typeof data !== 'object') return undefined;
  if (!isString(data.sub) || !isNumber(data.exp) || !isNumber(data.start) || data.claims === null || typeof data.claims !== 'object') return undefined;
  if (data.rt !== undefined && !isString(data.rt)) return undefined;
  if (data.start + maxAgeSeconds <= nowSeconds) return undefined;
  const session: Session = { sub: data.sub, claims: data.claims, exp: data.exp, start: data.start };
  if (data.rt !== undefined) session.rt = data.rt;
  return session;
}

export const sealState = (key: Buffer, state: LoginState): string => seal(key, STATE_PURPOSE, state);
export const sealSession = (key: Buffer, session: Session): string => seal(key, SESSION_PURPOSE, session);

/**
 * A same-origin relative target, or '/' for anything else: one leading '/', not '//' or '/\' (a
 * browser reads both as another host), no control characters or backslashes anywhere.
 */
export function safeReturnTo(target: string): string {
  if (target.length === 0 || target.length > 2048 || target[0] !== '/') return '/';
  if (target[1] === '/' || target[1] === '\\') return '/';
  if (/[\x00-\x20\x7f\\]/.test(target)) return '/';
  return target;
}

/** Cookie attributes fixed per filter: built once at create(). */
export interface CookieAttributes {
  /** Appended to the session cookie (Path=/; HttpOnly; SameSite=Lax[; Max-Age]). */
  session: string;
  /** Appended to the state cookie (Path=<redirect_path>; HttpOnly; SameSite=Lax; Max-Age=600). */
  state: string;
  /** Appended to a clearing cookie. */
  clearSession: string;
  clearState: string;
}

export function cookieAttributes(redirectPath: string, stateSeconds: number): CookieAttributes {
  return {
    session: '; Path=/; HttpOnly; SameSite=Lax',
    state: `; Path=${redirectPath}; HttpOnly; SameSite=Lax; Max-Age=${stateSeconds}`,
    clearSession: '; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
    clearState: `; Path=${redirectPath}; HttpOnly; SameSite=Lax; Max-Age=0`,
  };
}

/**
 * The Cookie header without the named cookies (the session and state cookies stay at the edge);
 * undefined when nothing is left.
 */
export function cookiesWithout(header: string, names: readonly string[]): string | undefined {
  const kept: string[] = [];
  for (const part of header.split(/;\s*/)) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (name === '' || names.includes(name)) continue;
    kept.push(part.trim());
  }
  return kept.length === 0 ? undefined : kept.join('; ');
}
