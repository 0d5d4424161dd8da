// Responses the HTTP/1.1 exchange writes itself instead of proxying: the local route actions (redirect,
// fixed response, static files), 404/413/503 before any upstream, and the error answer after an
// upstream failure. Functions over the exchange's state, like response-relay.ts.
import type { LeaseOutcome } from '../pool/index.ts';
import type { ProxyExchange } from './exchange.ts';
import type { RedirectAction, RespondAction, StaticAction } from './router/actions.ts';
import { BODY_NONE } from './parse/request-head.ts';
import { redirectLocation } from './router/actions.ts';
import { errorResponse, redirectResponse, fixedResponse, fieldsResponse } from './local-response.ts';
import { localResponseFields, type LocalResponse, type WireMemo } from './filters/index.ts';
import { serveStatic } from './static-route.ts';
import { P_WAITING } from './phases.ts';
import { failureReason, reasonLine, refusedReason } from './reasons.ts';
import { tokenMatches } from './trace-context.ts';

/** A route whose action is answered here. Same contract as ProxyExchange.start (returns bytes consumed). */
export function answerLocalRoute(ex: ProxyExchange, action: RedirectAction | RespondAction | StaticAction, bs: number): number {
  const head = ex.head;
  if (action.kind === 'static') {
    // files answer GET and HEAD; a body the responder will not read means the connection closes after
    ex.skipBody();
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

/**
 * `x-switchyard-reason: <reason>` for an edge-made answer to a request that carried the admin token in
 * x-switchyard-trace, else ''. Checked here, on the error path only: a 404 or 413 comes before the trace
 * context is read.
 */
function tracedReason(ex: ProxyExchange): string {
  if (ex.reason === '') return '';
  const head = ex.head;
  const traced = ex.debugTrace || (head.debugTraceAt >= 0 && tokenMatches(head.value(head.debugTraceAt), ex.conn.listener.traceToken));
  return traced ? reasonLine(ex.reason) : '';
}

/** A request filter's answer instead of the upstream. Same contract as ProxyExchange.start. */
export function answerFilter(ex: ProxyExchange, answer: LocalResponse, bs: number): number {
  const head = ex.head;
  ex.noteReason('filter');
  ex.closeAfter ||= head.bodyKind !== BODY_NONE;
  const lines = ex.rt.connectionLines(ex.willClose(), ex.keepAliveHeader()) + tracedReason(ex);
  const wire = answer.wire;
  if (wire !== undefined) return answerMemo(ex, answer, wire, lines, bs);
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
  const fields = localResponseFields(answer, ex.rt.date.value(), body.length);
  return answerLocal(ex, answer.status, fieldsResponse(answer.status, fields, lines, head.method === 'HEAD' ? null : body), bs);
}

/** Bodies up to this size are kept in a memoised answer with their head (one write); larger ones follow it in a second write. */
const MEMO_BODY_MAX = 64 * 1024;

/**
 * A filter's answer handed out again unchanged (a cache hit): the bytes encoded for it under this Date and
 * these lines are written as they are; they are encoded again when either changed.
 */
function answerMemo(ex: ProxyExchange, answer: LocalResponse, wire: WireMemo, lines: string, bs: number): number {
  const date = ex.rt.date.value();
  if (wire.bytes === null || wire.date !== date || wire.lines !== lines) {
    const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
    const head = fieldsResponse(answer.status, localResponseFields(answer, date, body.length), lines, null);
    const inline = body.length <= MEMO_BODY_MAX;
    wire.bytes = inline && body.length > 0 ? Buffer.concat([head, body], head.length + body.length) : head;
    wire.tail = inline ? null : body;
    wire.headLength = head.length;
    wire.date = date;
    wire.lines = lines;
  }
  const bytes = wire.bytes;
  if (ex.head.method === 'HEAD') return answerLocal(ex, answer.status, bytes.subarray(0, wire.headLength), bs);
  if (wire.tail === null) return answerLocal(ex, answer.status, bytes, bs);
  ex.writeDown(bytes);
  return answerLocal(ex, answer.status, wire.tail, bs);
}

/** An error status before anything went upstream (404, 413, 503); `close` forces Connection: close. */
export function answerLocalError(ex: ProxyExchange, status: number, bs: number, close: boolean): number {
  ex.noteReason(refusedReason(status));
  if (close || !ex.reqDone) ex.closeAfter = true;
  const out = errorResponse(status, ex.rt.date.line(), (ex.willClose() ? ex.rt.closeLines : ex.rt.responseLines) + tracedReason(ex), ex.head.method === 'HEAD');
  return answerLocal(ex, status, out, bs);
}

/**
 * A response produced here. The request body (if any) is not read: the connection closes after, so
 * the bytes after the head are left unconsumed (returns bs).
 */
function answerLocal(ex: ProxyExchange, status: number, out: Buffer, bs: number): number {
  ex.skipBody();
  ex.answerWhole(status, out);
  return bs;
}

/** The error answer (502/503/504/408/…) when nothing of the response was sent yet; the connection closes after. */
export function answerError(ex: ProxyExchange, status: number, outcome: LeaseOutcome): void {
  ex.dropUpstream(outcome);
  ex.noteReason(failureReason(status, outcome));
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
  ex.closeAfter = true;
  ex.reqDone = true;
  ex.answerWhole(status, errorResponse(status, ex.rt.date.line(), ex.rt.closeLines + tracedReason(ex), ex.head.method === 'HEAD'));
}
