// Relaying an upstream response to an HTTP/1.1 downstream: parse the head (1xx relayed or dropped, 101
// starts a tunnel), rewrite it, write it with the first body bytes, then frame the body (Content-Length,
// chunked passed through or de-chunked for HTTP/1.0, or until close) with backpressure. Functions over
// the exchange's state rather than methods, to keep exchange.ts about the request side.
import type { ProxyExchange } from './exchange.ts';
import { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, H_UPGRADE, H_TRANSFER_ENCODING, H_CONTENT_LENGTH } from './parse/request-head.ts';
import { BODY_UNTIL_CLOSE, parseResponseHead, type ResponseHead } from './parse/response-head.ts';
import { equalsLower, findHeadEnd } from './parse/chars.ts';
import { buildDownstreamHead, RESPONSE_ALWAYS_DROP, bit } from './rewrite.ts';
import { CONTINUE_100 } from './local-response.ts';
import { copyOf } from './phases.ts';
import { FRAMING_ERROR } from './upstream-response.ts';
import { upstreamFailed } from './upstream-failure.ts';
import { withoutField, isLocal, localResponseFields, type LocalResponse, type BodyTransform } from './filters/index.ts';
import { fieldsResponse } from './local-response.ts';
import { H1ResponseView, DownstreamBodySink } from './response-filters.ts';

const MAX_RESPONSE_HEAD = 64 * 1024;

export function relayResponseHead(ex: ProxyExchange, buf: Buffer, s: number, e: number): void {
  const response = ex.response;
  while (s < e) {
    let data = buf;
    let ds = s;
    let de = e;
    const kept = response.partialHead !== null;
    const scanFrom = kept ? response.partialLength : ds;
    if (kept) {
      de = response.appendHead(buf, s, e);
      data = response.partialHead!;
      ds = 0;
    }
    const headEnd = findHeadEnd(data, ds, scanFrom, de);
    if (headEnd === -1) {
      if (de - ds > MAX_RESPONSE_HEAD) return upstreamFailed(ex, 502, 'bad_response');
      response.keepHead(buf, s, e, de);
      return;
    }
    if (headEnd === -2) return upstreamFailed(ex, 502, 'bad_response');
    const raw = copyOf(data, ds, headEnd);
    const res = ex.conn.listener.resHead;
    if (!parseResponseHead(raw, raw.length, res, ex.head.method === 'HEAD', ex.rt.hidden)) return upstreamFailed(ex, 502, 'bad_response');
    // the rest of this read continues after the head; a copy is needed only when it came from the kept bytes
    if (kept) {
      const rest = de - headEnd;
      response.headDone();
      if (rest === 0) {
        onResponseHead(ex, null, 0, 0);
        return;
      }
      const tail = copyOf(data, headEnd, de);
      buf = tail;
      s = 0;
      e = rest;
    } else {
      s = headEnd;
    }
    if (onResponseHead(ex, buf, s, e)) return; // a final head: the body path took the rest
  }
}

/**
 * Asks the recent-requests ring whether it keeps this request in detail and, only then, copies the
 * upstream's Server-Timing value(s) out of the head: every other request pays one call and no copy.
 */
function recordUpstreamTiming(ex: ProxyExchange, res: ResponseHead): void {
  const listener = ex.conn.listener;
  const now = listener.now();
  if (!listener.wantsDetail(res.status, now - ex.tStart, now)) {
    ex.detail = 2;
    return;
  }
  ex.detail = 1;
  const o = res.offsets;
  for (let i = 0; i < res.headerCount; i++) {
    const ns = o[i * 4];
    if (o[i * 4 + 1] - ns !== 13 || !equalsLower(res.raw, ns, 'server-timing')) continue;
    const value = res.raw.toString('latin1', o[i * 4 + 2], o[i * 4 + 3]);
    ex.upstreamTiming = ex.upstreamTiming === '' ? value : `${ex.upstreamTiming}, ${value}`;
  }
}

/** Handles a parsed response head; returns true when it was final (then the rest was consumed). */
function onResponseHead(ex: ProxyExchange, buf: Buffer | null, s: number, e: number): boolean {
  const res = ex.conn.listener.resHead;
  const status = res.status;
  if (status < 200) {
    if (status === 101) {
      if (!ex.head.upgrade) {
        upstreamFailed(ex, 502, 'bad_response');
        return true;
      }
      startTunnel(ex, buf, s, e);
      return true;
    }
    // 100 Continue and 103 Early Hints go to HTTP/1.1 clients; others are dropped
    if (ex.head.minor === 1 && (status !== 100 || (ex.head.expectContinue && !ex.continueSent))) {
      if (status === 100) {
        ex.continueSent = true;
        ex.writeDown(CONTINUE_100);
      } else {
        ex.writeDown(buildDownstreamHead(res, RESPONSE_ALWAYS_DROP, '', null, 0, 0));
      }
    }
    return false;
  }
  // a status listed in retries.on: the response is dropped (nothing of it was sent) and another backend asked
  if (status >= 500 && ex.retryStatus(status)) return true;
  ex.responding(status);
  recordUpstreamTiming(ex, res);
  const response = ex.response;
  response.begin(res);
  let drop = RESPONSE_ALWAYS_DROP;
  if (res.bodyKind === BODY_UNTIL_CLOSE) ex.closeAfter = true;
  if (res.bodyKind === BODY_CHUNKED) {
    ex.conn.resChunked.reset();
    if (ex.head.minor === 0) {
      response.decodeChunks();
      ex.closeAfter = true;
      drop |= bit(H_TRANSFER_ENCODING);
    }
  }
  if (ex.head.upgrade) response.notReusable();
  // an answer before the whole body (e.g. 417 instead of 100): the client may never send the rest,
  // so this connection cannot carry another request
  if (!ex.reqDone) ex.closeAfter = true;
  // "response filters": the built-ins first (the edge's Server-Timing; hidden names were struck by the
  // parser), then the route's. They edit the head (their lines are added after the edge's below, and a
  // name they remove or set is struck from the edge's lines too); the route's may transform the body or
  // replace the response
  let dropNames: string[] | null = null;
  let filterLines = '';
  let framing = '';
  const builtins = ex.rt.builtins;
  const filters = ex.route!.filters;
  const userEdits = filters !== null && filters.editsResponse;
  if (userEdits || builtins.editsResponseFor(ex)) {
    const writer = ex.conn.listener.lineWriter;
    writer.reset('');
    const view = new H1ResponseView(res, ex.lease?.backend.id ?? '');
    builtins.onResponse(ex, writer, view);
    const verdict = userEdits ? filters.onResponse(ex, writer, view) : undefined;
    if (verdict !== undefined && isLocal(verdict)) {
      replaceResponse(ex, verdict, res.bodyKind === BODY_NONE);
      return true;
    }
    filterLines = writer.lines;
    dropNames = writer.dropped;
    if (verdict !== undefined) {
      if (res.bodyKind !== BODY_NONE) {
        drop |= bit(H_TRANSFER_ENCODING);
        if (!verdict.keepsLength) drop |= bit(H_CONTENT_LENGTH);
        framing = transformFraming(ex, verdict, res.bodyKind);
      }
      ex.bodySink = verdict.open(new DownstreamBodySink(ex, framing !== ''));
    }
  }
  const close = ex.willClose();
  let extra = ex.rt.connectionLines(close, ex.keepAliveHeader()) + framing;
  if (dropNames !== null) for (const name of dropNames) extra = withoutField(extra, name);
  extra += filterLines;
  if (ex.bodySink !== null) {
    if (!ex.writeDown(buildDownstreamHead(res, drop, extra, null, 0, 0, dropNames)) && ex.upstream !== null) ex.upstream.socket.pause();
    ex.conn.setDeadline(ex.rt.idleTimeout);
    if (res.bodyKind === BODY_NONE) ex.upstreamBodyDone();
    else if (buf !== null && s < e) relayResponseBody(ex, buf, s, e);
    return true;
  }
  let end = s;
  if (buf !== null && !response.dechunk) end = frameResponse(ex, buf, s, e);
  if (end < 0) return true;
  const ok = ex.writeDown(buildDownstreamHead(res, drop, extra, buf, s, end, dropNames));
  if (response.dechunk && buf !== null && s < e) {
    end = frameResponse(ex, buf, s, e);
    if (end < 0) return true;
  }
  if (!ok && ex.upstream !== null) ex.upstream.socket.pause();
  ex.conn.setDeadline(ex.rt.idleTimeout);
  if (res.bodyKind === BODY_NONE) response.ended();
  if (end < e) response.notReusable(); // bytes after the response: never reuse that socket
  if (response.done) ex.responseComplete();
  return true;
}

/**
 * How a transformed body is framed downstream: the upstream's chunked framing is always decoded (the
 * transform sees payload); a kept Content-Length stays; otherwise chunked to an HTTP/1.1 client (returns
 * the Transfer-Encoding line to add) or until close to an HTTP/1.0 one.
 */
function transformFraming(ex: ProxyExchange, transform: BodyTransform, bodyKind: number): string {
  if (bodyKind === BODY_CHUNKED) ex.response.decodeChunks();
  if (transform.keepsLength && bodyKind === BODY_LENGTH) return '';
  if (ex.head.minor === 1) return 'transfer-encoding: chunked\r\n';
  ex.closeAfter = true;
  return '';
}

/**
 * A response filter replaced the upstream's response (a cache's stored 200 for its revalidation's 304, a
 * stale answer for a 5xx): the local answer goes downstream instead, and the upstream connection is kept
 * only when its response had no body left to read.
 */
function replaceResponse(ex: ProxyExchange, answer: LocalResponse, bodiless: boolean): void {
  if (!bodiless) ex.response.notReusable();
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
  const fields = localResponseFields(answer, ex.rt.date.value(), body.length);
  ex.responding(answer.status);
  ex.writeDown(fieldsResponse(answer.status, fields, ex.rt.connectionLines(ex.willClose(), ex.keepAliveHeader()), ex.head.method === 'HEAD' ? null : body));
  ex.conn.setDeadline(ex.rt.idleTimeout);
  ex.responseComplete();
}

/** Advances response framing over buf[s, e); returns where this response's bytes end, -1 on error (answered). */
function frameResponse(ex: ProxyExchange, buf: Buffer, s: number, e: number): number {
  const end = ex.response.frame(buf, s, e, ex.conn.resChunked, ex);
  if (end === FRAMING_ERROR) upstreamFailed(ex, 502, 'bad_response');
  return end;
}

export function relayResponseBody(ex: ProxyExchange, buf: Buffer, s: number, e: number): void {
  const end = frameResponse(ex, buf, s, e);
  if (end < 0) return;
  const response = ex.response;
  if (!response.dechunk && end > s) {
    // a body transform keeps what it is given (a cache entry, zlib's input): it gets a copy of the read buffer's bytes
    if (ex.bodySink !== null) ex.bodySink.write(copyOf(buf, s, end));
    else {
      ex.relayDown(buf, s, end);
    }
  }
  ex.conn.setDeadline(ex.rt.idleTimeout);
  if (end < e) response.notReusable();
  if (response.done) ex.upstreamBodyDone();
}

function startTunnel(ex: ProxyExchange, buf: Buffer | null, s: number, e: number): void {
  ex.tunnelling();
  const res = ex.conn.listener.resHead;
  ex.writeDown(buildDownstreamHead(res, RESPONSE_ALWAYS_DROP & ~bit(H_UPGRADE), ex.rt.upgradeLines, buf, s, e));
  ex.conn.setDeadline(ex.rt.tunnelIdleTimeout);
  ex.conn.startTunnel();
}
