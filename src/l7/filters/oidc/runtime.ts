// What one oidc filter works with, built at create() without I/O: its settings in the form the hot path
// wants, the process-wide provider and refresh table (env.shared), and the files it reads on first use.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { MiddlewareSettings } from '../../../config/index.ts';
import type { FilterContext, FilterEnv, FilterStats } from '../types.ts';
import { OidcProvider } from './provider.ts';
import { deriveKeys, type SealKeys } from './seal.ts';
import { cookieAttributes, type CookieAttributes, type Session } from './cookies.ts';

/** How long a login may take between the redirect and the callback. */
export const STATE_SECONDS = 600;
/** A refresh's result stays available this long for requests still carrying the cookie it replaced. */
export const REFRESH_GRACE_MS = 30_000;

export interface Settings {
  issuer: string;
  clientId: string;
  scope: string;
  redirectPath: string;
  logoutPath: string;
  postLogoutRedirect: string;
  cookie: string;
  stateCookie: string;
  secure: boolean | 'auto';
  sessionMaxAge: number;
  refreshBefore: number;
  /** [claim, header] pairs. */
  forward: [string, string][];
  claimNames: string[];
  forwardCookie: boolean;
  forwardAuthorization: boolean;
  apiPaths: string[];
  attributes: CookieAttributes;
}

/** Decrypted sessions kept per worker, by cookie value: AES-GCM set-up costs ~40 µs, a lookup ~1. */
const SESSION_CACHE_ENTRIES = 10_000;

/** Refreshes in flight (and just settled) per refresh token, so one session refreshes once. */
export type RefreshTable = Map<string, Promise<Session | undefined>>;

export class Runtime {
  readonly settings: Settings;
  readonly provider: OidcProvider;
  readonly refreshes: RefreshTable;
  readonly stats: FilterStats;
  readonly env: FilterEnv;
  /** Set once the secret file is read: the hot path then needs no promise. */
  keys: SealKeys | undefined;
  /**
   * Sessions that decrypted, by cookie value (only authenticated values get in, so a client cannot fill
   * it with junk); the oldest goes first when full. Times are checked on every use all the same.
   */
  readonly sessions = new Map<string, Session>();
  private readonly keyFile: string;
  private readonly secretFile: string | undefined;
  private keysLoading: Promise<SealKeys> | undefined;
  private secretLoading: Promise<string> | undefined;
  private warnedAt = -Infinity;

  constructor(raw: MiddlewareSettings['oidc'], env: FilterEnv) {
    this.env = env;
    this.stats = env.stats('oidc');
    const forward = Object.entries(raw.forward_claims).map(([claim, header]): [string, string] => [claim, header.toLowerCase()]);
    this.settings = {
      issuer: raw.issuer,
      clientId: raw.client_id,
      scope: raw.scopes.join(' '),
      redirectPath: raw.redirect_path,
      logoutPath: raw.logout_path,
      postLogoutRedirect: raw.post_logout_redirect,
      cookie: raw.cookie,
      stateCookie: `${raw.cookie}_state`,
      secure: raw.secure,
      sessionMaxAge: Math.floor(raw.session_max_age / 1000),
      refreshBefore: Math.ceil(raw.refresh_before / 1000),
      forward,
      claimNames: forward.map(([claim]) => claim),
      forwardCookie: raw.forward_cookie,
      forwardAuthorization: raw.forward_authorization,
      apiPaths: raw.api_paths,
      attributes: cookieAttributes(raw.redirect_path, STATE_SECONDS),
    };
    this.keyFile = path.resolve(env.baseDir, raw.cookie_secret_file);
    this.secretFile = raw.client_secret_file === undefined ? undefined : path.resolve(env.baseDir, raw.client_secret_file);
    const caFile = raw.ca_file === undefined ? undefined : path.resolve(env.baseDir, raw.ca_file);
    // building the provider object does no I/O: discovery happens on the first login or refresh
    this.provider = env.shared(`oidc:provider:${raw.issuer}\0${caFile ?? ''}\0${raw.timeout}`, () => new OidcProvider({ issuer: raw.issuer, caFile, timeoutMs: raw.timeout, now: () => env.now() }));
    // keyed by what a refresh's result depends on: routes forwarding other claims refresh on their own
    this.refreshes = env.shared(`oidc:refresh:${raw.issuer}\0${raw.client_id}\0${this.settings.claimNames.join(',')}`, (): RefreshTable => new Map());
  }

  /** The cookie keys, reading the secret file the first time (a failed read is tried again next time). */
  loadKeys(): Promise<SealKeys> {
    this.keysLoading ??= readFile(this.keyFile).then(
      (bytes) => (this.keys = deriveKeys(bytes)),
      (error: Error) => {
        this.keysLoading = undefined;
        throw error;
      },
    );
    return this.keysLoading;
  }

  /** The client secret (undefined for a public client). */
  clientSecret(): Promise<string | undefined> {
    if (this.secretFile === undefined) return Promise.resolve(undefined);
    this.secretLoading ??= readFile(this.secretFile, 'utf8').then(
      (text) => text.trim(),
      (error: Error) => {
        this.secretLoading = undefined;
        throw error;
      },
    );
    return this.secretLoading;
  }

  /** Counts a decision and names it in the access log's reason (`oidc:<event>`). */
  decide(ctx: FilterContext, event: string): void {
    this.stats.count(event);
    ctx.setReason(`oidc:${event}`);
  }

  remember(value: string, session: Session): void {
    if (this.sessions.size >= SESSION_CACHE_ENTRIES) this.sessions.delete(this.sessions.keys().next().value as string);
    this.sessions.set(value, session);
  }

  secureFor(scheme: 'http' | 'https'): string {
    return this.settings.secure === true || (this.settings.secure === 'auto' && scheme === 'https') ? '; Secure' : '';
  }

  /** Logs a provider or file problem at most once a minute (an outage must not log per request). */
  warn(message: string, error: unknown): void {
    const now = this.env.now();
    if (now - this.warnedAt < 60_000) return;
    this.warnedAt = now;
    this.env.warn(`oidc: ${message}`, { issuer: this.settings.issuer, error: error instanceof Error ? error.message : String(error) });
  }
}

/** Wall-clock seconds (token lifetimes are absolute times). */
export const epochSeconds = (): number => Math.floor(Date.now() / 1000);
