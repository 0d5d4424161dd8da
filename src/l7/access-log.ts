// The access log: one JSON line per request (the only per-request log line). Phase durations are in
// milliseconds with 3 decimals, measured from the request's first byte (or accept, for the first
// request of a connection): headers read, upstream connected, upstream first byte, done.
//
// The line goes through the pino logger the caller passed (its destination, level, time format, level
// formatter and bindings), but it is assembled here rather than by pino's generic serializer: that
// serializer cost ~10 µs per request, most of the whole per-request budget; it is built as bytes
// (src/core/access-line.ts). The shape is exactly what `log.info({...})` would write; loggers without pino's
// internals (mixins, custom log formatters) get plain `log.info`.
//
// An access logger created with a people's format (src/core/access-formats.ts: combined, text) gets that format's
// line, built the same way.
import { pino } from 'pino';
import type { EarlierAttempt, UpstreamPool } from './types.ts';
import { AccessLine, AccessTimes, buildCombined, buildText, encodeAscii, formatOfHook, formattedWorstCase, type AccessFields, type AccessLogFormat, type AccessRequestHeaders, type Logger } from '../core/index.ts';

interface PinoInternals {
  stream: { write(line: string): unknown; writeBytes?: (src: Buffer, start: number, end: number) => boolean };
  /** The stream takes encoded lines (LineFileSink): bytes go to it as they are, no batching here. */
  direct: boolean;
  time: () => string;
  /** `{"level":…` and the logger's bindings (`,"pid":…,"log":"access"`), encoded once. */
  prefix: Uint8Array;
  /** From the logger's streamWrite hook (accessLineRewriter): json unless created for another format. */
  format: AccessLogFormat;
}

const cache = new WeakMap<Logger, PinoInternals | null>();

function internalsOf(log: Logger): PinoInternals | null {
  let found = cache.get(log);
  if (found !== undefined) return found;
  found = null;
  const raw = log as unknown as Record<symbol, unknown>;
  const s = pino.symbols;
  const stream = raw[s.streamSym] as PinoInternals['stream'] | undefined;
  const formatters = raw[s.formattersSym] as { level?: (label: string, n: number) => object; log?: unknown } | undefined;
  const time = raw[s.timeSym] as (() => string) | undefined;
  if (stream && typeof stream.write === 'function' && typeof time === 'function' && !raw[s.mixinSym] && !formatters?.log && raw[s.messageKeySym] === 'msg') {
    const level = formatters?.level ? JSON.stringify(formatters.level('info', 30)) : '{"level":30}';
    const prefix = Buffer.from(level.slice(0, -1) + String(raw[s.chindingsSym] ?? ''), 'utf8');
    const hooks = raw[s.hooksSym] as { streamWrite?: unknown } | undefined;
    found = { stream, direct: typeof stream.writeBytes === 'function', time, prefix, format: formatOfHook(hooks?.streamWrite) };
  }
  cache.set(log, found);
  return found;
}

function ms(from: number, to: number): number | undefined {
  if (to === 0) return undefined;
  return Math.round((to - from) * 1000) / 1000;
}

const K_REQUEST_ID = encodeAscii(',"request_id":');
const K_CLIENT = encodeAscii(',"client":');
const K_METHOD = encodeAscii(',"method":');
const K_HOST = encodeAscii(',"host":');
const K_PATH = encodeAscii(',"path":');
const K_STATUS = encodeAscii(',"status":');
const K_BYTES_IN = encodeAscii(',"bytes_in":');
const K_BYTES_OUT = encodeAscii(',"bytes_out":');
const K_ROUTE = encodeAscii(',"route":');
const K_POOL = encodeAscii(',"pool":');
const K_BACKEND = encodeAscii(',"backend":');
const K_PROTOCOL = encodeAscii(',"protocol":');
const K_TRACE_ID = encodeAscii(',"trace_id":');
const K_GRPC_STATUS = encodeAscii(',"grpc_status":');
const K_ATTEMPTS = encodeAscii(',"attempts":');
const K_REASON = encodeAscii(',"reason":');
const K_TRIED = encodeAscii(',"tried":');
const K_HEADERS_MS = encodeAscii(',"headers_ms":');
const K_CONNECT_MS = encodeAscii(',"connect_ms":');
const K_FIRST_BYTE_MS = encodeAscii(',"first_byte_ms":');
const K_TOTAL_MS = encodeAscii(',"total_ms":');
const END = encodeAscii('}\n');
/** Fixed parts, numbers and the time field of a line, with room to spare. */
const LINE_FIXED = 1024;

/**
 * Per listener: the line being built, the time field cached per millisecond, and lines for streams that
 * take strings batched into one write per event-loop turn (or every 64 KB).
 */
export class AccessLogBatch {
  readonly line = new AccessLine();
  readonly record = new AccessRecord();
  /** Time texts of the combined and text formats. */
  readonly times = new AccessTimes();
  private pending = '';
  private scheduled = false;
  private stream: PinoInternals['stream'] | null = null;
  private readonly flushNow = (): void => this.flush();
  private timeMs = -1;
  private timeBytes: Uint8Array = new Uint8Array(0);

  /** The logger's time field, computed once per millisecond (every pino time function depends only on it). */
  time(internals: PinoInternals): Uint8Array {
    const now = Date.now();
    if (now !== this.timeMs) {
      this.timeMs = now;
      this.timeBytes = Buffer.from(internals.time(), 'utf8');
    }
    return this.timeBytes;
  }

  add(stream: PinoInternals['stream'], line: string): void {
    if (this.stream !== stream && this.pending.length > 0) this.flush();
    this.stream = stream;
    this.pending += line;
    if (this.pending.length > 65536) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0 || this.stream === null) return;
    const text = this.pending;
    this.pending = '';
    this.stream.write(text);
  }
}

/**
 * What one access line says. The HTTP/1.1 exchange and the HTTP/2 bridge fill their listener's one record
 * (AccessLogBatch.record) when a request ends and hand it over at once: no object per request.
 */
export class AccessRecord implements AccessFields {
  requestId = '';
  client = '';
  method = '';
  host = '';
  path = '';
  status = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** '' leaves the field out (route, pool, backend, protocol, traceId). */
  route = '';
  pool = '';
  backend = '';
  /** Set for requests that did not come as HTTP/1.1 ("h2"). */
  protocol = '';
  /** HTTP/1.x minor version (the combined format's request line); ignored when protocol is set. */
  minor = 1;
  /** The request's headers, read only by the combined format (Referer, User-Agent); cleared by the write. */
  headers: AccessRequestHeaders | null = null;
  traceId = '';
  /** The edge's span (the parent id of the traceparent sent upstream); '' when the request had no trace. */
  spanId = '';
  /** The client's span when its traceparent was continued, else ''. */
  parentSpanId = '';
  /** The trace flags of the traceparent sent upstream ('01': sampled). */
  traceFlags = '01';
  /** A gRPC call's grpc-status ('' leaves the field out: not a gRPC call, or it ended without one). */
  grpcStatus = '';
  /**
   * Why the edge answered or decided as it did: an edge-made error's cause (no_route, no_backend,
   * connect_error, upstream_timeout, …) or a filter's verdict (waf:sqli-union, rate_limit:limited); '' leaves
   * the field out.
   */
  reason = '';
  attempts = 1;
  tried: ReadonlySet<string> | null = null;
  /** Monotonic milliseconds; a phase at 0 did not happen and is left out. */
  tStart = 0;
  /**
   * When the request's first byte arrived, for the first request of an HTTP/1.1 connection (tStart is
   * then the connection's accept); 0 otherwise.
   */
  tArrived = 0;
  tHead = 0;
  /** When the last try picked its backend (0: none). */
  tAttempt = 0;
  tConnected = 0;
  tFirstByte = 0;
  /**
   * The upstream's Server-Timing value, recorded only for requests the recent-requests ring chose to keep
   * in detail at the response head (AccessRecordSink.detail); '' otherwise. Not written to the log line.
   */
  upstreamTiming = '';
  /** The ring's head-time verdict: 0 not asked (no upstream head), 1 keep, 2 passed over. */
  detail = 0;
  /**
   * The first request of a TLS connection: when the TCP connection was accepted and when its handshake
   * ended (tStart is then the handshake's end for HTTP/1.1, the stream's start for HTTP/2); 0 otherwise.
   * Read by the recent-requests ring only (the waterfall's accept and TLS bars), not written to the line.
   */
  tAccepted = 0;
  tTls = 0;
  /** The route's filter names and their phase times (filters/chain.ts layout); null when it has none. */
  filterNames: readonly string[] | null = null;
  filterTimes: Float64Array | null = null;
  /** Tries before the last one, in order (the request's own array, made only on a retry); null when none. */
  earlier: readonly EarlierAttempt[] | null = null;
  /**
   * The pool of the last pick and that pick's number in its log (UpstreamPool.copyPick): the candidates
   * it considered, copied only by a sink that keeps the request. null / 0: no pick recorded.
   */
  pickPool: UpstreamPool | null = null;
  pickSeq = 0;
}

/** Through pino's own serializer: loggers without the internals the fast path needs, and giant lines. */
function writeGeneric(log: Logger, rec: AccessRecord, now: number): void {
  log.info({
    request_id: rec.requestId || undefined,
    client: rec.client,
    method: rec.method,
    host: rec.host,
    path: rec.path,
    status: rec.status,
    bytes_in: rec.bytesIn,
    bytes_out: rec.bytesOut,
    route: rec.route || undefined,
    pool: rec.pool || undefined,
    backend: rec.backend || undefined,
    protocol: rec.protocol || undefined,
    trace_id: rec.traceId || undefined,
    grpc_status: rec.grpcStatus || undefined,
    reason: rec.reason || undefined,
    attempts: rec.attempts > 1 ? rec.attempts : undefined,
    tried: rec.attempts > 1 ? [...(rec.tried ?? [])] : undefined,
    headers_ms: ms(rec.tStart, rec.tHead),
    connect_ms: ms(rec.tStart, rec.tConnected),
    first_byte_ms: ms(rec.tStart, rec.tFirstByte),
    total_ms: ms(rec.tStart, now),
  });
}

/** Writes `rec` as one line; `now` is when the request ended. */
export function writeAccessLog(log: Logger, rec: AccessRecord, now: number, batch: AccessLogBatch): void {
  // the record outlives the request: it keeps no reference to the request's headers past this write
  const headers = rec.headers;
  rec.headers = null;
  if (!log.isLevelEnabled('info')) return;
  const internals = internalsOf(log);
  if (internals === null) return writeGeneric(log, rec, now);
  if (internals.format !== 'json') return writeFormatted(log, internals, rec, headers, now, batch);
  const tried = rec.attempts > 1 ? JSON.stringify(rec.tried === null ? [] : [...rec.tried]) : '';
  // worst case: every character of a request string escaped as \u00XX (6 bytes), or 3 bytes of UTF-8
  const variable = rec.grpcStatus.length + rec.reason.length + rec.requestId.length + rec.client.length + rec.method.length + rec.host.length + rec.path.length + rec.route.length + rec.pool.length + rec.backend.length + rec.protocol.length + rec.traceId.length;
  const line = batch.line;
  if (variable * 6 + tried.length * 3 + internals.prefix.length + LINE_FIXED > line.capacity) return writeGeneric(log, rec, now);
  line.reset();
  line.bytes(internals.prefix);
  line.bytes(batch.time(internals));
  if (rec.requestId.length > 0) line.strField(K_REQUEST_ID, rec.requestId);
  line.strField(K_CLIENT, rec.client);
  line.strField(K_METHOD, rec.method);
  line.strField(K_HOST, rec.host);
  line.strField(K_PATH, rec.path);
  line.intField(K_STATUS, rec.status);
  line.intField(K_BYTES_IN, rec.bytesIn);
  line.intField(K_BYTES_OUT, rec.bytesOut);
  if (rec.route.length > 0) line.strField(K_ROUTE, rec.route);
  if (rec.pool.length > 0) line.strField(K_POOL, rec.pool);
  if (rec.backend.length > 0) line.strField(K_BACKEND, rec.backend);
  if (rec.protocol.length > 0) line.strField(K_PROTOCOL, rec.protocol);
  if (rec.traceId.length > 0) line.strField(K_TRACE_ID, rec.traceId);
  if (rec.grpcStatus.length > 0) line.strField(K_GRPC_STATUS, rec.grpcStatus);
  if (rec.reason.length > 0) line.strField(K_REASON, rec.reason);
  if (rec.attempts > 1) {
    line.intField(K_ATTEMPTS, rec.attempts);
    line.bytes(K_TRIED);
    line.pos += line.buf.write(tried, line.pos, 'utf8');
  }
  if (rec.tHead !== 0) line.msField(K_HEADERS_MS, rec.tStart, rec.tHead);
  if (rec.tConnected !== 0) line.msField(K_CONNECT_MS, rec.tStart, rec.tConnected);
  if (rec.tFirstByte !== 0) line.msField(K_FIRST_BYTE_MS, rec.tStart, rec.tFirstByte);
  line.msField(K_TOTAL_MS, rec.tStart, now);
  line.bytes(END);
  emit(internals, line, batch);
}

function emit(internals: PinoInternals, line: AccessLine, batch: AccessLogBatch): void {
  if (internals.direct) internals.stream.writeBytes!(line.buf, 0, line.pos);
  else batch.add(internals.stream, line.text());
}

/** A combined or text line, built as bytes like the JSON line (giant ones take pino's path and its hook). */
function writeFormatted(log: Logger, internals: PinoInternals, rec: AccessRecord, headers: AccessRequestHeaders | null, now: number, batch: AccessLogBatch): void {
  const combined = internals.format === 'combined';
  const referer = combined ? headers?.header('referer') : undefined;
  const userAgent = combined ? headers?.header('user-agent') : undefined;
  const line = batch.line;
  if (formattedWorstCase(rec, (referer?.length ?? 0) + (userAgent?.length ?? 0)) > line.capacity) return writeGeneric(log, rec, now);
  line.reset();
  const wall = Date.now();
  if (combined) buildCombined(line, rec, batch.times.clf(wall), referer, userAgent);
  else buildText(line, rec, batch.times.iso(wall), rec.tStart, now);
  emit(internals, line, batch);
}
