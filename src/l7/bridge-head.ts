// The HTTP/1.1 request head the bridge (HTTP/2 → HTTP/1.1 upstream) sends: the codec's flat header list
// with the same rules as the HTTP/1.1 path (upstream-head.ts) — hop-by-hop fields out, then the built-in
// and the route's upstream request filters — built as a string (the bridge is not the HTTP/1.1 hot path).
import type { ListenerRuntime } from './runtime.ts';
import type { ExchangeRequest } from './types.ts';
import type { TraceIds } from './trace-context.ts';
import { parseTraceparent, tokenMatches } from './trace-context.ts';
import { LineWriter, type FilterChain, type FilterContext } from './filters/index.ts';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'http2-settings']);

export interface BridgeTrace {
  traceId: string;
  spanId: string;
  flags: string;
  /** The client's traceparent was valid (its tracestate passes through). */
  continued: boolean;
  /** The client's span id when continued, else ''. */
  parentId: string;
  /** x-switchyard-trace carried the admin token. */
  debug: boolean;
}

/** Continues a valid client traceparent (exactly one) or starts a trace; the edge's span is new. */
export function bridgeTrace(headers: readonly string[], ids: TraceIds, token: string | undefined): BridgeTrace {
  let traceparent: string | undefined;
  let count = 0;
  let debug = false;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'traceparent') {
      traceparent = headers[i + 1];
      count++;
    } else if (headers[i] === 'x-switchyard-trace' && !debug) debug = tokenMatches(headers[i + 1], token);
  }
  const incoming = count === 1 ? parseTraceparent(traceparent!) : null;
  if (incoming !== null) return { traceId: incoming.traceId, spanId: ids.next(8), flags: incoming.flags, continued: true, parentId: incoming.parentId, debug };
  // a new trace: its id and the edge's span from one hex conversion, as the HTTP/1.1 path makes them
  const both = ids.nextTraceAndSpan();
  return { traceId: both.slice(0, 32), spanId: both.slice(32), flags: '01', continued: false, parentId: '', debug };
}

/** Every value of `name` in a flat [name, value, …] list, joined with ", " ('' when none). */
export function joinedValues(headers: readonly string[], name: string): string {
  let out = '';
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) out = out.length === 0 ? headers[i + 1] : `${out}, ${headers[i + 1]}`;
  return out;
}

/** The first value of `name` (lower-case) in a flat [name, value, …] list. */
export function firstValue(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/**
 * A request field as one value, the way an HTTP/1.1 head would carry it: HTTP/2 clients split `cookie` into
 * one field per cookie (RFC 9113 8.2.3), joined back with "; "; other names give their first value.
 */
export function requestField(headers: readonly string[], name: string): string | undefined {
  if (name !== 'cookie') return firstValue(headers, name);
  let out: string | undefined;
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'cookie') out = out === undefined ? headers[i + 1] : `${out}; ${headers[i + 1]}`;
  return out;
}

export interface BridgeHeadInput {
  rt: ListenerRuntime;
  request: ExchangeRequest;
  /** Request line target (after normalisation, strip_prefix and rewrite). */
  target: string;
  host: string;
  /** The body's length as the edge frames it: the buffered body's, else the request's (-1: chunked, 0: none). */
  contentLength: number;
  /** The route's filters (their "upstream request filters" run on the head after the built-ins) and what they see. */
  filters: FilterChain | null;
  context: FilterContext;
}

/** The complete head (ending in CRLF CRLF) for the upstream. */
export function bridgeRequestHead(input: BridgeHeadInput): string {
  const { rt, request: req } = input;
  const builtins = rt.builtins;
  const removed = builtins.upstreamRemoved;
  let head = `${req.method} ${input.target} HTTP/1.1\r\nhost: ${input.host}\r\n`;
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || name.charCodeAt(0) === 0x3a) continue;
    // the trace token never leaves the edge; the fields a built-in writes itself (forwarded headers,
    // traceparent) are the edge's, not the client's
    if (name === 'x-switchyard-trace' || removed.has(name)) continue;
    if (/[\r\n]/.test(h[i + 1])) continue;
    head += `${name}: ${h[i + 1]}\r\n`;
  }
  // "upstream request filters": the built-ins (forwarded headers, request id, traceparent), then the route's
  const filters = input.filters;
  const userEdits = filters !== null && filters.editsUpstream;
  if (builtins.editsUpstream || userEdits) {
    const writer = new LineWriter(head);
    builtins.onUpstreamRequest(input.context, writer);
    if (userEdits) filters.onUpstreamRequest(input.context, writer);
    head = writer.lines;
  }
  if (input.contentLength > 0) head += `content-length: ${input.contentLength}\r\n`;
  else if (input.contentLength < 0) head += 'transfer-encoding: chunked\r\n';
  return head + '\r\n';
}
