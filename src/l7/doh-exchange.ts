// The `dns` route action on the HTTP/1.1 path (DNS over HTTPS, RFC 8484): the query from a GET's ?dns= or
// a POST's body (Content-Length only, at most 65535 bytes; the body is read here, never spilled), answered
// by the process's DNS engine, written as application/dns-message with Cache-Control from the answer's
// smallest TTL. Functions over the exchange's state, like local-answers.ts.
import type { DnsAnswerer } from './types.ts';
import type { ProxyExchange } from './exchange.ts';
import { BODY_CHUNKED, BODY_NONE } from './parse/request-head.ts';
import { answerLocalError } from './local-answers.ts';
import { fieldsResponse } from './local-response.ts';
import { clientBehindProxies } from './upstream-head.ts';
import { DOH_ALLOW, dohAnswerFields, dohBodyStatus, dohGetMessage, dohPostStatus } from './doh.ts';
import { P_DONE, P_WAITING } from './phases.ts';

/** A route whose action is `dns`. Same contract as ProxyExchange.start (returns the end of the bytes it took). */
export function answerDns(ex: ProxyExchange, buf: Buffer, bs: number, be: number): number {
  const head = ex.head;
  const dns = ex.conn.listener.dns;
  if (dns === undefined) return answerLocalError(ex, 503, bs, false);
  if (ex.conn.peerTrusted(ex.rt)) ex.clientAddress = clientBehindProxies(ex);
  if (head.method === 'GET') {
    const message = dohGetMessage(head.target);
    if (typeof message === 'number') return answerLocalError(ex, message, bs, false);
    // a GET's body is not read: the connection closes after the answer
    ex.skipBody();
    ask(ex, dns, message);
    return bs;
  }
  if (head.method !== 'POST') return answerNotAllowed(ex, bs);
  if (head.bodyKind === BODY_CHUNKED) return answerLocalError(ex, 411, bs, true);
  const status = dohPostStatus(head.header('content-type'), head.contentLength) || dohBodyStatus(head.bodyKind === BODY_NONE ? 0 : head.contentLength);
  if (status !== 0) return answerLocalError(ex, status, bs, true);
  ex.dohBody = Buffer.allocUnsafe(head.contentLength);
  ex.dohFill = 0;
  ex.bodyStart = ex.conn.listener.now();
  return firstBody(ex, buf, bs, be);
}

/** POST body bytes that came with the head. */
function firstBody(ex: ProxyExchange, buf: Buffer, s: number, e: number): number {
  return takeBody(ex, buf, s, e, false);
}

/** POST body bytes from later reads. Same contract as ProxyExchange.requestBody. */
export function dohRequestBody(ex: ProxyExchange, buf: Buffer, s: number, e: number): number {
  return takeBody(ex, buf, s, e, true);
}

/**
 * `later`: called from a read after the head's, where the connection keeps the bytes past this body (a
 * pipelined request) only once this returns; the answer then waits for a microtask, so the exchange does
 * not end (and the connection look for the next request) before those bytes are kept.
 */
function takeBody(ex: ProxyExchange, buf: Buffer, s: number, e: number, later: boolean): number {
  const body = ex.dohBody!;
  const take = Math.min(e - s, body.length - ex.dohFill);
  buf.copy(body, ex.dohFill, s, s + take);
  ex.dohFill += take;
  ex.bytesIn += take;
  if (ex.dohFill < body.length) {
    // per read (timeouts.body) and whole body (timeouts.body_total), as a buffered proxied body
    const now = ex.conn.listener.now();
    ex.conn.deadline = Math.min(now + ex.rt.bodyTimeout, ex.bodyStart + ex.rt.bodyTotalTimeout);
    return s + take;
  }
  ex.dohBody = null;
  ex.reqDone = true;
  const dns = ex.conn.listener.dns!;
  if (later) queueMicrotask(() => ask(ex, dns, body));
  else ask(ex, dns, body);
  return s + take;
}

/** The message to the engine; the answer (at once, or when the resolver has it) to the client. */
function ask(ex: ProxyExchange, dns: DnsAnswerer, message: Buffer): void {
  ex.phase = P_WAITING;
  ex.dohWaiting = true;
  const outcome = dns.answer(message, ex.clientAddress);
  if (outcome instanceof Promise) {
    // the resolver bounds its own work; timeouts.upstream_response bounds the wait for it here
    ex.conn.setDeadline(ex.rt.responseTimeout);
    outcome.then(
      (answer) => send(ex, answer),
      () => send(ex, 'drop'),
    );
  } else send(ex, outcome);
}

function send(ex: ProxyExchange, answer: Buffer | 'drop'): void {
  if (ex.phase === P_DONE) return; // the client left, or the wait timed out
  ex.dohWaiting = false;
  // 'drop': DNS answers nothing to it (a response, or not a DNS message): the request was bad
  if (answer === 'drop') {
    answerLocalError(ex, 400, 0, false);
    return;
  }
  const out = fieldsResponse(200, dohAnswerFields(answer, ex.rt.date.value()), ex.rt.connectionLines(ex.willClose(), ex.keepAliveHeader()), answer);
  write(ex, 200, out);
}

function answerNotAllowed(ex: ProxyExchange, bs: number): number {
  ex.closeAfter ||= ex.head.bodyKind !== BODY_NONE;
  const body = Buffer.from('405 method not allowed\n');
  const fields = [...DOH_ALLOW, 'date', ex.rt.date.value(), 'content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length)];
  ex.skipBody();
  write(ex, 405, fieldsResponse(405, fields, ex.rt.connectionLines(ex.willClose(), ex.keepAliveHeader()), ex.head.method === 'HEAD' ? null : body));
  return bs;
}

function write(ex: ProxyExchange, status: number, out: Buffer): void {
  ex.answerWhole(status, out);
}
