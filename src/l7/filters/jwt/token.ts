// Finding the token in a request: `Authorization: Bearer <token>` (scheme case-insensitive, RFC 6750 2.1),
// else the configured cookie. A cheap shape check (three base64url parts) runs before any parsing.
import type { FilterContext } from '../types.ts';

const BEARER = /^bearer /i;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The token the request carries, or undefined. Slices the header value only when it is a bearer one. */
export function findToken(ctx: FilterContext, cookie: string | undefined): string | undefined {
  const authorization = ctx.header('authorization');
  if (authorization !== undefined) {
    // test(), not exec(): no match array per request
    if (BEARER.test(authorization)) {
      let start = 7;
      while (authorization.charCodeAt(start) === 0x20) start++;
      return authorization.slice(start).trimEnd();
    }
  }
  if (cookie !== undefined) {
    const value = ctx.cookie(cookie);
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/** Whether `token` has the compact JWS shape (header.payload.signature, base64url). */
export function looksLikeJws(token: string): boolean {
  return COMPACT_JWS.test(token);
}
