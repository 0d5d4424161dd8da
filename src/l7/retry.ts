// Retrying a proxied HTTP/1.1 request: "pick upstream" re-entered with the tried set (ARCHITECTURE.md).
// The decision is the attempt core's (attempts.ts), the same on every path; what is HTTP/1.1 here is the
// precondition — nothing of the response reached the client (still connecting or waiting for the head) —
// and how the next try goes: ProxyExchange.nextTry drops the failed connection and sends again.
import type { LeaseOutcome } from '../pool/index.ts';
import type { ProxyExchange } from './exchange.ts';
import { P_CONNECTING, P_WAITING } from './phases.ts';

/**
 * The current try failed with `kind`; the lease is released with `outcome`. Returns true when the request
 * went to another backend (the caller stops), false when it must be answered as a failure.
 */
export function retryOnAnotherBackend(ex: ProxyExchange, kind: number, outcome: LeaseOutcome): boolean {
  if ((ex.phase !== P_CONNECTING && ex.phase !== P_WAITING) || ex.bytesOut !== 0) return false;
  const now = ex.conn.listener.now();
  const next = ex.attempts.retry(kind, outcome, ex.headSent, now, ex);
  if (next === undefined) return false;
  ex.nextTry(next, now, false);
  return true;
}

/**
 * The keep-alive race (Attempts.resendFresh): the request, written to a reused connection that the
 * upstream closed before any response byte, goes once more on a fresh connection to the same backend.
 */
export function resendOnFreshConnection(ex: ProxyExchange): boolean {
  if (ex.phase !== P_WAITING || ex.bytesOut !== 0) return false;
  const now = ex.conn.listener.now();
  const lease = ex.attempts.resendFresh(ex.headSent, ex.reusedUpstream, now, ex);
  if (lease === undefined) return false;
  ex.nextTry(lease, now, true);
  return true;
}
