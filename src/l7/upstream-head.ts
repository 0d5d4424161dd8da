// The request head as it goes upstream: target after strip_prefix/rewrite, hop-by-hop headers removed,
// Content-Length normalised, Host when needed, forwarded headers and the request id; built once, with the
// first body bytes, by rewrite.ts.
import type { ProxyExchange } from './exchange.ts';
import { type RequestHead, BODY_NONE, BODY_CHUNKED, H_EXPECT, H_CONTENT_LENGTH, H_UPGRADE, H_HOST, H_X_FORWARDED_FOR, H_X_FORWARDED_PROTO, H_X_FORWARDED_HOST, H_REQUEST_ID, H_TRACESTATE } from './parse/request-head.ts';
import { upstreamTarget } from './router/actions.ts';
import { buildUpstreamHead, bit } from './rewrite.ts';
import { clientFromChain } from './forwarded.ts';
import { LineWriter } from './filters/index.ts';

/** The real client when the peer is a trusted proxy: from the X-Forwarded-For chain (see forwarded.ts). */
export function clientBehindProxies(ex: ProxyExchange): string {
  const head = ex.head;
  let chain = '';
  for (let i = 0; i < head.headerCount; i++) {
    if (head.kinds[i] === H_X_FORWARDED_FOR) chain = chain.length === 0 ? head.value(i) : `${chain}, ${head.value(i)}`;
  }
  return clientFromChain(chain, ex.conn.peer, ex.rt.trusted);
}

/** The client's request id when it sent a usable one (1–200 bytes), else a new one. */
export function requestIdFor(ex: ProxyExchange): string {
  const head = ex.head;
  for (let i = 0; i < head.headerCount; i++) {
    if (head.kinds[i] === H_REQUEST_ID) {
      const value = head.value(i);
      if (value.length > 0 && value.length <= 200) return value;
    }
  }
  return ex.conn.listener.nextRequestId();
}

function hasKind(head: RequestHead, kind: number): boolean {
  for (let i = 0; i < head.headerCount; i++) if (head.kinds[i] === kind) return true;
  return false;
}

export function upstreamRequestHead(ex: ProxyExchange, buf: Buffer | null, bs: number, be: number): Buffer {
  const head = ex.head;
  const rt = ex.rt;
  const action = ex.action!;
  const newTarget = upstreamTarget(action, head.target, head.path);
  let extra = `traceparent: 00-${ex.traceId}-${ex.spanId}-${ex.traceFlags}\r\n`;
  let drop = rt.requestDropMask;
  // a tracestate belongs to the trace it came with: without a valid traceparent it is dropped (W3C)
  if (!ex.traceContinued) drop |= bit(H_TRACESTATE);
  if (head.upgrade) extra += 'connection: upgrade\r\n';
  else drop |= bit(H_UPGRADE);
  // the framing is always the edge's, from the body it parsed (never the client's lines, which are dropped)
  const body = ex.body;
  if (body !== null) {
    // buffered: the whole body is here; a 100-continue was answered by the edge
    extra += `content-length: ${body.length}\r\n`;
    drop |= bit(H_EXPECT);
  } else if (head.bodyKind === BODY_CHUNKED) {
    extra += 'transfer-encoding: chunked\r\n';
  } else if (head.contentLength > 0 || (head.bodyKind === BODY_NONE && hasKind(head, H_CONTENT_LENGTH))) {
    extra += `content-length: ${head.contentLength}\r\n`;
  }
  if (action.upstreamHost === 'backend' || head.absoluteForm || head.authority.length === 0) {
    // HTTP/1.0 clients may omit Host; HTTP/1.1 upstreams require one
    drop |= bit(H_HOST);
    extra += `host: ${action.upstreamHost === 'backend' || head.authority.length === 0 ? ex.lease!.backend.id : head.authority}\r\n`;
  }
  extra += forwardedLines(ex);
  // "upstream request filters": they see the edge's lines too (a filter may replace a forwarded header)
  let dropNames: string[] | null = null;
  const filters = ex.route!.filters;
  if (filters !== null && filters.editsUpstream) {
    const writer = new LineWriter(extra);
    filters.onUpstreamRequest(ex, writer);
    extra = writer.lines;
    dropNames = writer.dropped;
  }
  return buildUpstreamHead(head, newTarget === head.target && !head.absoluteForm && !head.targetChanged ? null : newTarget, drop, extra, buf, bs, be, dropNames);
}

export function forwardedLines(ex: ProxyExchange): string {
  const rt = ex.rt;
  const head = ex.head;
  const peer = ex.conn.peer;
  const trusted = rt.trusted.empty ? false : ex.conn.peerTrusted(rt);
  let lines = '';
  if (rt.setXff) {
    let chain = '';
    if (trusted) {
      for (let i = 0; i < head.headerCount; i++) {
        if (head.kinds[i] === H_X_FORWARDED_FOR) chain = chain.length === 0 ? head.value(i) : `${chain}, ${head.value(i)}`;
      }
    }
    lines += chain.length === 0 ? `x-forwarded-for: ${peer}\r\n` : `x-forwarded-for: ${chain}, ${peer}\r\n`;
  }
  if (rt.setRealIp) lines += `x-real-ip: ${ex.clientAddress}\r\n`;
  if (rt.setProto) lines += `x-forwarded-proto: ${(trusted && incoming(ex, H_X_FORWARDED_PROTO)) || rt.scheme}\r\n`;
  if (rt.setHost && head.authority.length > 0) lines += `x-forwarded-host: ${(trusted && incoming(ex, H_X_FORWARDED_HOST)) || head.authority}\r\n`;
  if (rt.setPort) lines += `x-forwarded-port: ${ex.conn.localPort}\r\n`;
  if (rt.setForwarded) {
    const forIp = ex.clientAddress.includes(':') ? `"[${ex.clientAddress}]"` : ex.clientAddress;
    lines += `forwarded: for=${forIp};proto=${rt.scheme}${head.authority.length > 0 ? `;host="${head.authority}"` : ''}\r\n`;
  }
  if (ex.requestId.length > 0 && findIncomingRequestId(ex) === false) lines += `${rt.requestIdName}: ${ex.requestId}\r\n`;
  return lines;
}

function incoming(ex: ProxyExchange, kind: number): string {
  const head = ex.head;
  for (let i = 0; i < head.headerCount; i++) if (head.kinds[i] === kind) return head.value(i);
  return '';
}

function findIncomingRequestId(ex: ProxyExchange): boolean {
  const head = ex.head;
  for (let i = 0; i < head.headerCount; i++) if (head.kinds[i] === H_REQUEST_ID) return true;
  return false;
}
