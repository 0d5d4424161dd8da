// The HTTP/1.1 request head the bridge (HTTP/2 → HTTP/1.1 upstream) sends: the codec's flat header list
// with the same rules as the HTTP/1.1 path (upstream-head.ts) — hop-by-hop fields out, then the built-in
// and the route's upstream request filters — written as bytes (HeadBytes).
import type { ListenerRuntime } from './runtime.ts';
import type { ExchangeRequest } from './types.ts';
import type { TraceIds } from './trace-context.ts';
import { parseTraceparent, tokenMatches } from './trace-context.ts';
import type { FilterChain, FilterContext, HeaderWriter } from './filters/index.ts';

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
 * The value of `name` (lower-case) when the list carries it on exactly one line, else undefined: a client's
 * request id sent twice is not its id (the log would keep one while the upstream may read the other; the
 * request_id filter then replaces every line with the edge's id), as on the HTTP/1.1 path (requestIdFor).
 */
export function soleValue(headers: readonly string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== name) continue;
    if (found !== undefined) return undefined;
    found = headers[i + 1];
  }
  return found;
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

/**
 * The complete head (ending in CRLF CRLF) for the upstream, as bytes of its own (a write may hold them).
 * Written byte by byte into one reusable buffer and copied out once: built as a string, a head of ten
 * fields made ~1.6 KB of intermediate strings per request (each `name: value\r\n` and each `+=`), a third
 * of what a proxied HTTP/2 request allocated (a sampling heap profile under bench/h2-profile.ts's load).
 * Positional parameters: an input object was one more allocation per request.
 */
export function bridgeRequestHead(
  rt: ListenerRuntime,
  req: ExchangeRequest,
  /** Request line target (after normalisation, strip_prefix and rewrite). */
  target: string,
  host: string,
  /** The body's length as the edge frames it: the buffered body's, else the request's (-1: chunked, 0: none). */
  contentLength: number,
  /** The route's filters (their "upstream request filters" run on the head after the built-ins) and what they see. */
  filters: FilterChain | null,
  context: FilterContext,
): Buffer {
  const builtins = rt.builtins;
  const removed = builtins.upstreamRemoved;
  const head = scratch;
  head.reset();
  head.text(req.method);
  head.byte(0x20);
  head.text(target);
  head.text(' HTTP/1.1\r\n');
  head.add('host', host);
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || name.charCodeAt(0) === 0x3a) continue;
    // the trace token never leaves the edge; the fields a built-in writes itself (forwarded headers,
    // traceparent) are the edge's, not the client's
    if (name === 'x-switchyard-trace' || removed.has(name)) continue;
    // a value with CR or LF is left out (HTTP/2 and HTTP/3 codecs refuse them; this is the last guard)
    head.field(name, h[i + 1]);
  }
  // "upstream request filters": the built-ins (forwarded headers, request id, traceparent), then the route's
  const userEdits = filters !== null && filters.editsUpstream;
  if (builtins.editsUpstream || userEdits) {
    builtins.onUpstreamRequest(context, head);
    if (userEdits) filters.onUpstreamRequest(context, head);
  }
  if (contentLength > 0) head.add('content-length', String(contentLength));
  else if (contentLength < 0) head.text('transfer-encoding: chunked\r\n');
  head.text('\r\n');
  return head.take();
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * A head being written as latin1 bytes (as `write(head, 'latin1')` would encode it: a character above 255
 * keeps its low byte), and the filters' HeaderWriter on it: add appends a line, remove strikes the lines
 * of a name written so far (the client's too, as LineWriter on the whole head did).
 */
class HeadBytes implements HeaderWriter {
  private buf = Buffer.allocUnsafeSlow(4096);
  private length = 0;

  reset(): void {
    this.length = 0;
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }

  text(s: string): void {
    this.room(s.length);
    const buf = this.buf;
    let n = this.length;
    for (let i = 0; i < s.length; i++) buf[n++] = s.charCodeAt(i);
    this.length = n;
  }

  /** `name: value` CRLF, or nothing when the value holds a CR or LF. */
  field(name: string, value: string): void {
    const start = this.length;
    this.room(name.length + value.length + 4);
    const buf = this.buf;
    let n = start;
    for (let i = 0; i < name.length; i++) buf[n++] = name.charCodeAt(i);
    buf[n++] = 0x3a;
    buf[n++] = 0x20;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === CR || c === LF) return;
      buf[n++] = c;
    }
    buf[n++] = CR;
    buf[n++] = LF;
    this.length = n;
  }

  /** `name: value` CRLF, as LineWriter wrote it (a filter's value is not checked). */
  add(name: string, value: string): void {
    this.room(name.length + value.length + 4);
    const buf = this.buf;
    let n = this.length;
    for (let i = 0; i < name.length; i++) buf[n++] = name.charCodeAt(i);
    buf[n++] = 0x3a;
    buf[n++] = 0x20;
    for (let i = 0; i < value.length; i++) buf[n++] = value.charCodeAt(i);
    buf[n++] = CR;
    buf[n++] = LF;
    this.length = n;
  }

  set(name: string, value: string): void {
    this.remove(name);
    this.add(name, value);
  }

  remove(name: string): void {
    const buf = this.buf;
    let w = 0;
    let at = 0;
    while (at < this.length) {
      let end = buf.indexOf(LF, at);
      end = end < 0 || end >= this.length ? this.length : end + 1;
      if (!this.named(at, end, name)) {
        if (w !== at) buf.copy(buf, w, at, end);
        w += end - at;
      }
      at = end;
    }
    this.length = w;
  }

  /** The line [at, end) is a field `name` (lower-case names: the edge's, and HTTP/2's). */
  private named(at: number, end: number, name: string): boolean {
    if (end - at <= name.length || this.buf[at + name.length] !== 0x3a) return false;
    for (let i = 0; i < name.length; i++) if (this.buf[at + i] !== name.charCodeAt(i)) return false;
    return true;
  }

  /** A copy of the head: the buffer is reused for the next one. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.length);
    this.buf.copy(out, 0, 0, this.length);
    return out;
  }
}

/** The one head being built (built to its end in one call, filters included: never two at once). */
const scratch = new HeadBytes();
