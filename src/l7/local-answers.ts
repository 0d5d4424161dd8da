// Responses the HTTP/1.1 exchange writes itself instead of proxying: the local route actions (redirect,
// fixed response, static files), 404/413/503 before any upstream, and the error answer after an
// upstream failure. Functions over the exchange's state, like response-relay.ts.
import type { LeaseOutcome } from '../pool/types.ts';
import type { ProxyExchange } from './exchange.ts';
import type { RedirectAction, RespondAction, StaticAction } from './router/actions.ts';
import { BODY_NONE } from './parse/request-head.ts';
import { redirectLocation } from './router/actions.ts';
import { errorResponse, redirectResponse, fixedResponse, fieldsResponse } from './local-response.ts';
import { localResponseFields, type LocalResponse } from './filters/index.ts';
import { serveStatic } from './static-route.ts';
import { P_WAITING } from './phases.ts';
import { failureReason, refusedReason } from './reasons.ts';

/** A route whose action is answered here. Same contract as ProxyExchange.start (returns bytes consumed). */
export function answerLocalRoute(ex: ProxyExchange, action: RedirectAction | RespondAction | StaticAction, bs: number): number {
  const head = ex.head;
  if (action.kind === 'static') {
    // files answer GET and HEAD; a body the responder will not read means the connection closes after
    if (!ex.reqDone) ex.closeAfter = true;
    ex.reqDone = true;
    ex.phase = P_WAITING;
    serveStatic(ex, action);
    return bs;
  }
  ex.closeAfter ||= head.bodyKind !== BODY_NONE;
  if (action.kind === 'redirect') {
    const location = redirectLocation(action, ex.rt.scheme, head.hostname, head.authority, head.target);
    return answerLocal(ex, action.status, redirectResponse(action.status, location, ex.rt.date.line(), ex.rt.connectionLines(ex.willClose(), ex.keepAliveHeader()), head.method === 'HEAD'), bs);
  }
  return answerLocal(ex, action.status, fixedResponse(action.head, action.body, action.dated ? '' : ex.rt.date.line(), ex.rt.connectionLines(ex.willClose(), ex.keepAliveHeader()), head.method === 'HEAD'), bs);
}

/** A request filter's answer instead of the upstream. Same contract as ProxyExchange.start. */
export function answerFilter(ex: ProxyExchange, answer: LocalResponse, bs: number): number {
  const head = ex.head;
  if (ex.reason === '') ex.reason = 'filter';
  ex.closeAfter ||= head.bodyKind !== BODY_NONE;
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
  const fields = localResponseFields(answer, ex.rt.date.value(), body.length);
  return answerLocal(ex, answer.status, fieldsResponse(answer.status, fields, ex.rt.connectionLines(ex.willClose(), ex.keepAliveHeader()), head.method === 'HEAD' ? null : body), bs);
}

/** An error status before anything went upstream (404, 413, 503); `close` forces Connection: close. */
export function answerLocalError(ex: ProxyExchange, status: number, bs: number, close: boolean): number {
  if (ex.reason === '') ex.reason = refusedReason(status);
  if (close || !ex.reqDone) ex.closeAfter = true;
  const out = errorResponse(status, ex.rt.date.line(), ex.willClose() ? ex.rt.closeLines : ex.rt.responseLines, ex.head.method === 'HEAD');
  return answerLocal(ex, status, out, bs);
}

/**
 * A response produced here. The request body (if any) is not read: the connection closes after, so
 * the bytes after the head are left unconsumed (returns bs).
 */
function answerLocal(ex: ProxyExchange, status: number, out: Buffer, bs: number): number {
  ex.status = status;
  ex.bytesOut += out.length;
  ex.conn.write(out);
  ex.resDone = true;
  if (!ex.reqDone) ex.closeAfter = true;
  ex.reqDone = true;
  ex.finish();
  return bs;
}

/** The error answer (502/503/504/408/…) when nothing of the response was sent yet; the connection closes after. */
export function answerError(ex: ProxyExchange, status: number, outcome: LeaseOutcome): void {
  ex.outcome = outcome;
  if (ex.reason === '') ex.reason = failureReason(status, outcome);
  const upstream = ex.upstream;
  ex.upstream = null;
  upstream?.destroy();
  // no upstream response came: a filter may answer instead (a cache's stale copy); the lease still ends
  // with the failure's outcome, so passive health counts it
  const filters = ex.route?.filters;
  if (filters != null && filters.handlesFailure && status >= 502 && status <= 504 && ex.pool !== null) {
    const answer = filters.onUpstreamFailure(ex, status);
    if (answer !== undefined) {
      answerFilter(ex, answer, 0);
      return;
    }
  }
  ex.status = status;
  ex.closeAfter = true;
  const out = errorResponse(status, ex.rt.date.line(), ex.rt.closeLines, ex.head.method === 'HEAD');
  ex.bytesOut += out.length;
  ex.conn.write(out);
  ex.resDone = true;
  ex.reqDone = true;
  ex.finish();
}
