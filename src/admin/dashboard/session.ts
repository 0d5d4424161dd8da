// The dashboard's login session: a cookie that proves the browser once presented the admin token, without
// carrying the token. Stateless: the value is `<expiry>.<nonce>.<HMAC-SHA256(key, expiry.nonce)>` under a
// key drawn per process, so a restart logs every browser out and nothing is kept per session. The page's
// CSRF value is derived from the cookie the same way, so a POST must carry both (the cookie, sent by the
// browser, and the header, which only a script of the page's own origin can read from the page).
import { createHmac, randomBytes } from 'node:crypto';
import { sameToken } from '../../core/index.ts';

export const sessionCookieName = 'switchyard_admin';
const lifetimeMs = 12 * 60 * 60 * 1000;

export class DashboardSessions {
  private readonly key = randomBytes(32);
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** A fresh cookie value, valid for 12 hours. */
  issue(): string {
    const body = `${this.now() + lifetimeMs}.${randomBytes(16).toString('hex')}`;
    return `${body}.${this.mac(body)}`;
  }

  /** Whether `value` is a cookie this process issued and it has not expired; constant time in the MAC. */
  valid(value: string | undefined): boolean {
    if (value === undefined) return false;
    const dot = value.lastIndexOf('.');
    if (dot <= 0) return false;
    const body = value.slice(0, dot);
    if (!sameToken(value.slice(dot + 1), this.mac(body))) return false;
    return Number(body.slice(0, body.indexOf('.'))) > this.now();
  }

  /** The CSRF value the page of this session gets, and every POST of it must send back. */
  csrfFor(cookie: string): string {
    return this.mac(`csrf.${cookie}`);
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('hex');
  }
}

/** The session cookie's value in a Cookie header, if any. */
export function sessionCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === sessionCookieName) return part.slice(eq + 1).trim();
  }
  return undefined;
}
