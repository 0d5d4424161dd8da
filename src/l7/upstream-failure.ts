// What the HTTP/1.1 exchange does when its upstream ends, closes or misses a deadline: finish a response
// framed by close, retry (retry.ts) while nothing reached the client, else answer 502/504 — or, once the
// response started, cut the downstream connection (the client sees a truncated response).
import type { LeaseOutcome } from '../pool/index.ts';
import type { ProxyExchange } from './exchange.ts';
import { BODY_UNTIL_CLOSE } from './parse/response-head.ts';
import { R_CONNECT_ERROR, R_RESET, R_TIMEOUT } from './retry-policy.ts';
import { retryOnAnotherBackend, resendOnFreshConnection } from './retry.ts';
import { answerError } from './local-answers.ts';
import { P_CONNECTING, P_WAITING, P_RESPONDING, P_TUNNEL, P_DONE } from './phases.ts';

/** The try's connection was closed or reset before a response: the keep-alive race, then another backend. */
function retryAfterReset(ex: ProxyExchange): boolean {
  return resendOnFreshConnection(ex) || retryOnAnotherBackend(ex, R_RESET, 'reset');
}

/** EOF from the upstream (its socket may still be writable). */
export function onUpstreamEnd(ex: ProxyExchange): void {
  ex.upstreamEnded = true;
  if (ex.phase === P_TUNNEL) {
    ex.conn.endWrite();
    if (ex.downstreamEnded) ex.finish();
    return;
  }
  ex.response.notReusable();
  // the body was all read and a body transform is still flushing it downstream: nothing is lost
  if (ex.phase === P_RESPONDING && ex.response.done) return;
  if (ex.phase === P_RESPONDING && ex.response.kind === BODY_UNTIL_CLOSE) {
    ex.upstreamBodyDone();
    return;
  }
  if (ex.phase === P_WAITING) {
    if (retryAfterReset(ex)) return;
    upstreamFailed(ex, 502, 'reset');
  } else if (ex.phase === P_RESPONDING) upstreamFailed(ex, 502, 'reset');
}

/** The upstream socket closed or failed; `connected`: whether it ever connected. */
export function onUpstreamClosed(ex: ProxyExchange, connected: boolean): void {
  ex.upstream = null;
  if (ex.phase === P_DONE) return;
  if (ex.phase === P_TUNNEL) {
    ex.finish();
    ex.conn.destroy();
    return;
  }
  if (!connected && ex.phase === P_CONNECTING) {
    // nothing was sent: another backend may take it whatever the method; out of backends, that connect error is the answer
    if (retryOnAnotherBackend(ex, R_CONNECT_ERROR, 'connect_error')) return;
    upstreamFailed(ex, 502, 'connect_error');
    return;
  }
  // the body was all read (a transform may still be flushing it), or it ran until this close
  if (ex.phase === P_RESPONDING && ex.response.done) return;
  if (ex.phase === P_RESPONDING && ex.response.kind === BODY_UNTIL_CLOSE && ex.upstreamEnded) {
    ex.upstreamBodyDone();
    return;
  }
  if (ex.phase === P_WAITING && retryAfterReset(ex)) return;
  upstreamFailed(ex, 502, 'reset');
}

/** The exchange's deadline passed (the connection's sweep calls this through ProxyExchange.timedOut). */
export function onDeadline(ex: ProxyExchange): void {
  switch (ex.phase) {
    case P_CONNECTING:
      // a connect timeout is a connect error (nothing was sent): retried like a refusal
      if (retryOnAnotherBackend(ex, R_CONNECT_ERROR, 'timeout')) return;
      upstreamFailed(ex, 504, 'timeout');
      return;
    case P_WAITING:
      if (!ex.reqDone && ex.headSent) {
        // the client stopped sending its body
        upstreamFailed(ex, 408, 'cancelled');
        return;
      }
      if (retryOnAnotherBackend(ex, R_TIMEOUT, 'timeout')) return;
      upstreamFailed(ex, 504, 'timeout');
      return;
    default:
      ex.cutShort(ex.phase === P_TUNNEL ? 'success' : 'timeout');
  }
}

/**
 * The upstream failed (or the request body was bad): answer `status` when nothing was sent downstream
 * yet, else cut the connection. The upstream socket is dropped.
 */
export function upstreamFailed(ex: ProxyExchange, status: number, outcome: LeaseOutcome): void {
  ex.dropUpstream(outcome);
  if (ex.phase === P_RESPONDING) return ex.cutShort(outcome);
  answerError(ex, status, outcome);
}
