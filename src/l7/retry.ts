// Retrying a proxied HTTP/1.1 request: "pick upstream" re-entered with the tried set (ARCHITECTURE.md).
// A failure is retried only while nothing of the response reached the client, and the request can be
// sent again as it was: either nothing was written upstream yet (a connect error: any method; the stash
// holds the body read so far), or the method is idempotent and every body byte sent is still kept
// (`replay`, at most REPLAY_LIMIT bytes). Retries on another backend also need the pool's retry budget.
// Functions over the exchange's state, like response-relay.ts, to keep exchange.ts about one try.
import type { LeaseOutcome } from '../pool/index.ts';
import type { ProxyExchange } from './exchange.ts';
import { REPLAY_LIMIT, retryEnabled } from './retry-policy.ts';
import { P_CONNECTING, P_WAITING, copyOf } from './phases.ts';
import { noteAttempt } from './attempts.ts';

/** Whether the request can be written again: nothing sent on this try, or an idempotent method whose sent body is kept. */
function resendable(ex: ProxyExchange): boolean {
  if (!ex.headSent) return true;
  return ex.retry.methods.has(ex.head.method) && ex.replayable;
}

/**
 * The current try failed with `kind`; the lease is released with `outcome`. Returns true when the request
 * went to another backend (the caller stops), false when it must be answered as a failure.
 */
export function retryOnAnotherBackend(ex: ProxyExchange, kind: number, outcome: LeaseOutcome): boolean {
  if (ex.phase !== P_CONNECTING && ex.phase !== P_WAITING) return false;
  if (ex.bytesOut !== 0 || ex.lease === null || ex.pool === null) return false;
  if (ex.attempts - ex.staleRetries > ex.retry.attempts || !retryEnabled(ex.retry, kind) || !resendable(ex)) return false;
  const now = ex.conn.listener.now();
  let acquired = false;
  if (!ex.budgetHeld) {
    const budget = ex.conn.listener.retryBudget(ex.pool.name);
    if (!budget.tryAcquire(now, ex.retry.budget)) return false;
    ex.budgetHeld = acquired = true;
  }
  const failed = ex.lease;
  const tried = (ex.tried ??= new Set());
  tried.add(failed.backend.id);
  const next = ex.pool.pick(ex, tried);
  // a retry that finds no backend leaves the waterfall's pick row on the try that answered
  if (next !== undefined) ex.pickSeq = ex.pool.lastPick ?? 0;
  if (next === undefined) {
    if (acquired) {
      ex.budgetHeld = false;
      ex.conn.listener.retryBudget(ex.pool.name).release();
    }
    return false;
  }
  failed.release(outcome);
  ex.conn.listener.retryBudget(ex.pool.name).retries++;
  ex.lease = null;
  ex.retryReason = kind >= 100 ? String(kind) : outcome;
  ex.earlier = noteAttempt(ex.earlier, failed.backend.id, ex.tAttempt, ex.tConnected, ex.tFirstByte, now, ex.retryReason);
  dropUpstream(ex);
  if (ex.connectTo(next, now, false)) ex.sendWhenConnected();
  return true;
}

/**
 * The keep-alive race: a reused connection that the upstream closed just as the request was written to it
 * (EOF or reset before any response byte). An idempotent request whose body is kept is sent once more, on
 * a fresh connection to the same backend; it needs neither `on: reset` nor the budget, since the backend
 * did nothing wrong.
 */
export function resendOnFreshConnection(ex: ProxyExchange): boolean {
  if (ex.phase !== P_WAITING || ex.tFirstByte !== 0 || !ex.reusedUpstream || ex.staleRetries >= 1 || ex.lease === null || ex.bytesOut !== 0) return false;
  if (!ex.retry.methods.has(ex.head.method) || !ex.replayable) return false;
  ex.staleRetries++;
  const lease = ex.lease;
  const now = ex.conn.listener.now();
  ex.earlier = noteAttempt(ex.earlier, lease.backend.id, ex.tAttempt, ex.tConnected, ex.tFirstByte, now, 'keepalive_race');
  dropUpstream(ex);
  ex.lease = null;
  if (ex.connectTo(lease, now, true)) ex.sendWhenConnected();
  return true;
}

/** Forgets the failed try's connection and response state; the body to send again goes back to the stash. */
function dropUpstream(ex: ProxyExchange): void {
  const old = ex.upstream;
  ex.upstream = null;
  old?.destroy();
  if (ex.headSent) {
    ex.heldBody = ex.replay === null ? null : ex.replay.slice();
    ex.headSent = false;
  }
  ex.resAcc = null;
  ex.resAccLen = 0;
  ex.tFirstByte = 0;
  ex.tConnected = 0;
  ex.upstreamReusable = false;
}

/**
 * Body bytes buf[s, e) were written upstream straight from the read buffer: keep a copy while a replay
 * is possible; past REPLAY_LIMIT (or with no replay buffer) the request can no longer be resent.
 */
export function keepSent(ex: ProxyExchange, buf: Buffer, s: number, e: number): void {
  if (e <= s) return;
  if (ex.replay === null) {
    ex.replayable = false;
    return;
  }
  keepCopy(ex, copyOf(buf, s, e));
}

/** A body chunk that is stashed (not sent yet) and, while a replay is possible, kept for it too. */
export function keepCopy(ex: ProxyExchange, chunk: Buffer): void {
  const replay = ex.replay;
  if (replay === null) return;
  ex.replayBytes += chunk.length;
  if (ex.replayBytes > REPLAY_LIMIT) {
    ex.replay = null;
    ex.replayable = false;
    return;
  }
  replay.push(chunk);
}
