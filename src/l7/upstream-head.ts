// The request head as it goes upstream: target after strip_prefix/rewrite, hop-by-hop headers removed,
// Content-Length normalised, Host when needed, then the upstream request filters — the built-ins
// (forwarded headers, request id, traceparent: filters/builtin) and the route's — through the listener's
// LineWriter; built once, with the first body bytes, by rewrite.ts.
import type { ProxyExchange } from './exchange.ts';
import { type RequestHead, BODY_NONE, BODY_CHUNKED, H_EXPECT, H_CONTENT_LENGTH, H_UPGRADE, H_HOST, H_X_FORWARDED_FOR, H_REQUEST_ID, H_TRACESTATE } from './parse/request-head.ts';
import { equalsLower } from './parse/chars.ts';
import { upstreamTarget } from './router/actions.ts';
import { buildUpstreamHead, bit } from './rewrite.ts';
import { clientFromChain } from './forwarded.ts';
import { usableRequestId } from './filters/index.ts';

/** The real client when the peer is a trusted proxy: from the X-Forwarded-For chain (see forwarded.ts). */
export function clientBehindProxies(ex: ProxyExchange): string {
  const head = ex.head;
  let chain = '';
  for (let i = 0; i < head.headerCount; i++) {
    if (head.kinds[i] === H_X_FORWARDED_FOR) chain = chain.length === 0 ? head.value(i) : `${chain}, ${head.value(i)}`;
  }
  return clientFromChain(chain, ex.conn.peer, ex.rt.trusted);
}

/**
 * The client's request id when it sent a usable one (1–200 bytes) in a single field line, else a new one
 * (the listener's generator). Several lines are not usable: the log would keep the first while the
 * upstream may read another; the request_id filter then replaces them all with the new id.
 */
export function requestIdFor(ex: ProxyExchange): string {
  return usableRequestId(soleRequestId(ex)) ?? ex.conn.listener.nextRequestId();
}

function soleRequestId(ex: ProxyExchange): string | undefined {
  const head = ex.head;
  let sent: string | undefined;
  for (let i = 0; i < head.headerCount; i++) {
    if (head.kinds[i] !== H_REQUEST_ID) continue;
    if (sent !== undefined) return undefined;
    sent = head.value(i);
  }
  return sent;
}

/** The client's own request-id field (kind H_REQUEST_ID: forwarded.request_id), undefined when none. */
export function sentRequestId(ex: ProxyExchange): string | undefined {
  const head = ex.head;
  for (let i = 0; i < head.headerCount; i++) if (head.kinds[i] === H_REQUEST_ID) return head.value(i);
  return undefined;
}

/** Every value of request field `name` (lower-case) joined with ", " ('' when none). */
export function joinedHeader(ex: ProxyExchange, name: string): string {
  const head = ex.head;
  const kind = name === 'x-forwarded-for' ? H_X_FORWARDED_FOR : -1;
  const o = head.offsets;
  let out = '';
  for (let i = 0; i < head.headerCount; i++) {
    const ns = o[i * 4];
    if (kind >= 0 ? head.kinds[i] !== kind : o[i * 4 + 1] - ns !== name.length || !equalsLower(head.raw, ns, name)) continue;
    out = out.length === 0 ? head.value(i) : `${out}, ${head.value(i)}`;
  }
  return out;
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
  let extra = '';
  let drop = rt.requestDropMask;
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
  // "upstream request filters": the built-ins first (their removals are in the drop mask already), then the
  // route's; a user filter sees the edge's lines and may replace one. The listener's one writer is reused
  // (this runs to its end before any other request's head is built).
  let dropNames = rt.upstreamDropNames;
  const builtins = rt.builtins;
  const filters = ex.route!.filters;
  if (builtins.editsUpstream || (filters !== null && filters.editsUpstream)) {
    const writer = ex.conn.listener.lineWriter;
    writer.reset(extra);
    builtins.onUpstreamRequest(ex, writer);
    if (filters !== null && filters.editsUpstream) filters.onUpstreamRequest(ex, writer);
    extra = writer.lines;
    if (writer.dropped !== null) dropNames = dropNames === null ? writer.dropped : [...dropNames, ...writer.dropped];
  }
  return buildUpstreamHead(head, newTarget === head.target && !head.absoluteForm && !head.targetChanged ? null : newTarget, drop, extra, buf, bs, be, dropNames);
}

/** The client sent a tracestate field. */
export function sentTracestate(ex: ProxyExchange): boolean {
  return hasKind(ex.head, H_TRACESTATE);
}
