// The RateLimit and RateLimit-Policy fields of draft-ietf-httpapi-ratelimit-headers (drafts 08–10: Structured
// Field lists of named policies), and the 429 the filter answers with.
//   RateLimit-Policy: "<zone>";q=<count>;w=<period seconds>   the configured rate
//   RateLimit:        "<zone>";r=<tokens left>;t=<seconds>    t: until a token is due when none is left
//                                                            (= Retry-After), else until the bucket is full
import type { LocalResponse } from '../types.ts';
import type { Take } from './gcra.ts';

/** A policy name as an sf-string: printable ASCII, with " and \ escaped. */
export function sfString(text: string): string {
  return `"${text.replace(/[^\x20-\x7e]/g, '').replace(/["\\]/g, '\\$&')}"`;
}

export function policyField(zone: string, count: number, periodMs: number): string {
  return `${sfString(zone)};q=${count};w=${Math.round(periodMs / 1000)}`;
}

/** Whole seconds, at least 1 while anything is pending (a client must not retry at once). */
function seconds(ms: number): number {
  return ms <= 0 ? 0 : Math.max(1, Math.ceil(ms / 1000));
}

export function rateLimitField(quotedZone: string, take: Take): string {
  return `${quotedZone};r=${take.remaining};t=${seconds(take.granted > 0 ? take.resetMs : take.retryMs)}`;
}

export function limited(quotedZone: string, policy: string, take: Take): LocalResponse {
  const retry = String(Math.max(1, seconds(take.retryMs)));
  return {
    status: 429,
    headers: ['retry-after', retry, 'ratelimit-policy', policy, 'ratelimit', `${quotedZone};r=0;t=${retry}`, 'cache-control', 'no-store'],
    body: 'too many requests\n',
  };
}

/** on_store_error: deny — the limiter cannot decide, so the edge is the one unavailable. */
export const storeUnavailable: LocalResponse = Object.freeze({
  status: 503,
  headers: Object.freeze(['retry-after', '1', 'cache-control', 'no-store']),
  body: 'rate limit store unavailable\n',
});
