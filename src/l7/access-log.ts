// The access log: one JSON line per request (the only per-request log line). Phase durations are in
// milliseconds with 3 decimals, measured from the request's first byte (or accept, for the first
// request of a connection): headers read, upstream connected, upstream first byte, done.
//
// The line goes through the pino logger the caller passed (its destination, level, time format, level
// formatter and bindings), but it is assembled here rather than by pino's generic serializer: that
// serializer cost ~10 µs per request, most of the whole per-request budget. The shape is exactly what
// `log.info({...})` would write; loggers without pino's internals (mixins, custom log formatters) get
// plain `log.info`.
import { pino } from 'pino';
import type { Logger } from '../core/index.ts';
import type { ProxyExchange } from './exchange.ts';

interface PinoInternals {
  stream: { write(line: string): unknown; buffersLines?: boolean };
  /** The stream encodes each line into its own buffer at once (LineFileSink): no batching here. */
  direct: boolean;
  chindings: string;
  time: () => string;
  levelPrefix: string;
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
    found = { stream, direct: stream.buffersLines === true, chindings: String(raw[s.chindingsSym] ?? ''), time, levelPrefix: level.slice(0, -1) };
  }
  cache.set(log, found);
  return found;
}

function ms(from: number, to: number): number | undefined {
  if (to === 0) return undefined;
  return Math.round((to - from) * 1000) / 1000;
}

/**
 * A duration as JSON milliseconds with 3 decimals ("12.050"), from integer microseconds: turning the
 * double itself into text went through V8's shortest-double printer, 4 times per line.
 */
function msText(from: number, to: number): string {
  const us = Math.round((to - from) * 1000);
  if (us < 0) return '0';
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  return whole + (frac < 10 ? '.00' : frac < 100 ? '.0' : '.') + frac;
}

/** JSON string literal; the common case (no quote, backslash or control byte) without JSON.stringify. */
function str(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return JSON.stringify(value);
  }
  return '"' + value + '"';
}

/**
 * Lines built on the fast path are batched and handed to the logger's stream once per event-loop turn
 * (or every 64 KB): one write call per turn instead of one per request. Owned by one listener.
 */
export class AccessLogBatch {
  private pending = '';
  private scheduled = false;
  private stream: PinoInternals['stream'] | null = null;
  private readonly flushNow = (): void => this.flush();
  private timeMs = -1;
  private timeText = '';

  /** The logger's time field, computed once per millisecond (every pino time function depends only on it). */
  time(internals: PinoInternals): string {
    const now = Date.now();
    if (now !== this.timeMs) {
      this.timeMs = now;
      this.timeText = internals.time();
    }
    return this.timeText;
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

export function writeAccessLog(log: Logger, ex: ProxyExchange, now: number, batch: AccessLogBatch): void {
  if (!log.isLevelEnabled('info')) return;
  const head = ex.head;
  const lease = ex.lease;
  const internals = internalsOf(log);
  if (internals === null) {
    log.info({
      request_id: ex.requestId || undefined,
      client: ex.clientAddress,
      method: head.method,
      host: head.authority,
      path: head.path,
      status: ex.status,
      bytes_in: ex.bytesIn,
      bytes_out: ex.bytesOut,
      route: ex.route?.name,
      pool: ex.pool?.name,
      backend: lease?.backend.id,
      trace_id: ex.traceId || undefined,
      attempts: ex.attempts > 1 ? ex.attempts : undefined,
      tried: ex.attempts > 1 ? [...(ex.tried ?? [])] : undefined,
      headers_ms: ms(ex.tStart, ex.tHead),
      connect_ms: ms(ex.tStart, ex.tConnected),
      first_byte_ms: ms(ex.tStart, ex.tFirstByte),
      total_ms: ms(ex.tStart, now),
    });
    return;
  }
  let line = internals.levelPrefix + batch.time(internals) + internals.chindings;
  if (ex.requestId.length > 0) line += ',"request_id":' + str(ex.requestId);
  line += ',"client":' + str(ex.clientAddress) + ',"method":' + str(head.method) + ',"host":' + str(head.authority) + ',"path":' + str(head.path);
  line += ',"status":' + ex.status + ',"bytes_in":' + ex.bytesIn + ',"bytes_out":' + ex.bytesOut;
  if (ex.route !== null) line += ',"route":' + str(ex.route.name);
  if (ex.pool !== null) line += ',"pool":' + str(ex.pool.name);
  if (lease !== null) line += ',"backend":' + str(lease.backend.id);
  if (ex.traceId.length > 0) line += ',"trace_id":"' + ex.traceId + '"';
  if (ex.attempts > 1) line += ',"attempts":' + ex.attempts + ',"tried":' + JSON.stringify(ex.tried === null ? [] : [...ex.tried]);
  line += ',"headers_ms":' + msText(ex.tStart, ex.tHead);
  if (ex.tConnected !== 0) line += ',"connect_ms":' + msText(ex.tStart, ex.tConnected);
  if (ex.tFirstByte !== 0) line += ',"first_byte_ms":' + msText(ex.tStart, ex.tFirstByte);
  line += ',"total_ms":' + msText(ex.tStart, now) + '}\n';
  if (internals.direct) internals.stream.write(line);
  else batch.add(internals.stream, line);
}
