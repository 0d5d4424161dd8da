// The recent-requests ring of one traffic plane: what the dashboard's requests table and waterfalls read
// (GET /api/requests). Every finished request is offered; kept are every error (status ≥ 400, or an
// edge-made answer with a reason other than a fresh cache hit), every slow one (≥ slowMs), and of the
// rest up to `perSecond` a second (a token bucket: under light load all of them, under heavy load a steady sample). Slots are
// preallocated objects overwritten in place (the oldest goes first): the request path stores a few
// numbers and references to strings the request already had. Only a request chosen at its response head
// (detail()) gets the upstream's Server-Timing copied, so the others pay no header scan. A kept request's
// filter times are copied into the slot's own array (the record's is the connection's, reused); its
// earlier tries are the request's own array, kept by reference.
import { PickSnapshot, pickView, type PickView } from '../pool/index.ts';
import { FILTER_TIMES, T_BODY_END, T_BODY_START, T_REQUEST_END, T_REQUEST_START, T_RESPONSE_END, T_RESPONSE_START, T_UPSTREAM_END, T_UPSTREAM_START } from '../core/index.ts';
import type { AccessRecord, AccessRecordSink, EarlierAttempt } from '../l7/index.ts';

export interface RecentRequestsOptions {
  /** Requests kept (the oldest is overwritten). */
  capacity: number;
  /** Ordinary (fast, successful) requests kept per second at most; errors and slow ones are always kept. */
  perSecond: number;
  /** A request at least this long (ms, arrival to last byte) is slow: always kept. */
  slowMs: number;
  /** Wall clock, epoch ms (the monotonic times come with each record). */
  wallNow?: () => number;
}

/**
 * The one edge-made answer that is ordinary traffic, not an event: a fresh cache hit, the usual answer of a
 * cached route. Kept like any other success (sampled), so that under a cached load hits do not push the
 * errors out of the ring.
 */
const ORDINARY_REASON = 'cache:hit';

/** Why a request is in the ring. */
export type KeptBecause = 'error' | 'slow' | 'sampled';

/** One kept request as the admin API returns it: times in ms since the request arrived (-1: did not happen). */
export interface RecentRequest {
  id: string;
  /** Epoch ms when the request arrived. */
  time: number;
  method: string;
  host: string;
  path: string;
  status: number;
  route: string;
  pool: string;
  backend: string;
  /** '' (HTTP/1.1), 'h2' or 'h3'. */
  protocol: string;
  client: string;
  reason: string;
  traceId: string;
  attempts: number;
  /** Backends that failed before the last try, in order. */
  tried: string[];
  bytesIn: number;
  bytesOut: number;
  kept: KeptBecause;
  /**
   * Phase ends, ms after the request began: `tls` (the first request of a TLS connection begins at the
   * TCP accept: the handshake's end), `arrived` (the first request of an HTTP/1.1 connection begins at
   * the connection's accept: its first byte came then), head read (an HTTP/2 stream: its HEADERS),
   * backend picked (last try), connected, first byte, done.
   */
  phases: { tls: number; arrived: number; head: number; pick: number; connected: number; firstByte: number; done: number };
  /** The upstream's Server-Timing header value, as sent ('' when absent or not recorded). */
  serverTiming: string;
  /** The route's filters in run order, each phase as [from, to] ms (null: that phase did not run; to -1: did not end). */
  filters: RecentFilter[];
  /** The tries before the last one (retries), in order; the last one is in `phases`. */
  earlierAttempts: RecentAttempt[];
  /**
   * What the last pick considered: the policy and every backend of the pool with its state, in-flight
   * count and effective weight at that moment (null: no pick, or later picks of the pool overwrote it).
   */
  pick: PickView | null;
}

export interface RecentFilter {
  name: string;
  /** onRequest (until an async verdict settled), the upstream head's edits (onUpstreamRequest), onResponse. */
  request: [number, number] | null;
  upstream: [number, number] | null;
  response: [number, number] | null;
  /** The body transform onResponse returned (compression, a cache store): first byte in, last byte out. */
  body: [number, number] | null;
}

/** A failed try: ms after the request began (-1: did not happen), and why it failed. */
export interface RecentAttempt {
  backend: string;
  pick: number;
  connected: number;
  firstByte: number;
  done: number;
  outcome: string;
}

export interface RecentQuery {
  /** A status (404), a class (5xx), or 'error' (≥ 400). */
  status?: string;
  route?: string;
  pool?: string;
  backend?: string;
  /** One request id (the listener's request-id header): the dashboard opening a linked waterfall. */
  requestId?: string;
  limit?: number;
}

class Slot {
  id = '';
  wall = 0;
  method = '';
  host = '';
  path = '';
  status = 0;
  route = '';
  pool = '';
  backend = '';
  protocol = '';
  client = '';
  reason = '';
  traceId = '';
  attempts = 1;
  tried: string[] | null = null;
  bytesIn = 0;
  bytesOut = 0;
  kept: KeptBecause = 'sampled';
  tStart = 0;
  tArrived = 0;
  tHead = 0;
  tAttempt = 0;
  tConnected = 0;
  tFirstByte = 0;
  tEnd = 0;
  serverTiming = '';
  tAccepted = 0;
  tTls = 0;
  filterNames: readonly string[] | null = null;
  /** This slot's copy of the filter times (grown to the longest chain it held). */
  filterTimes: Float64Array | null = null;
  earlier: readonly EarlierAttempt[] | null = null;
  /** This slot's copy of the last pick (allocated the first time the slot keeps one); hasPick: it is this request's. */
  pick: PickSnapshot | null = null;
  hasPick = false;
}

const since = (t: number, t0: number): number => (t === 0 ? -1 : Math.round((t - t0) * 1000) / 1000);

/** Whether `status` passes a filter: '' any, '404' exactly, '4xx' the class, 'error' ≥ 400. */
export function statusMatches(filter: string, status: number): boolean {
  if (filter === '') return true;
  if (filter === 'error') return status >= 400 || status === 0;
  if (/^[1-5]xx$/i.test(filter)) return ((status / 100) | 0) === Number(filter[0]);
  return Number(filter) === status;
}

export class RecentRequests implements AccessRecordSink {
  readonly active = true;
  private readonly options: RecentRequestsOptions;
  private readonly slots: Slot[];
  /** Next slot to write, and how many hold a request. */
  private next = 0;
  private count = 0;
  private tokens: number;
  private refilledAt = -1;
  /** Requests offered, and of those passed over by the sampling. */
  offered = 0;
  skipped = 0;

  constructor(options: RecentRequestsOptions) {
    this.options = options;
    this.slots = Array.from({ length: options.capacity }, () => new Slot());
    this.tokens = options.perSecond;
  }

  /** One token of the ordinary-request budget, refilled at perSecond (monotonic ms `now`). */
  private take(now: number): boolean {
    const { perSecond } = this.options;
    if (this.refilledAt < 0) this.refilledAt = now;
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(perSecond, this.tokens + (elapsed * perSecond) / 1000);
      this.refilledAt = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** At the response head: an error or an already slow request is kept anyway; else it takes a token. */
  detail(status: number, elapsed: number, now: number): boolean {
    if (status >= 400 || elapsed >= this.options.slowMs) return true;
    return this.take(now);
  }

  /**
   * push()'s keep decision ahead of the record (RecordSinks.wants): the detail verdict the record is to
   * carry (1: the sample was taken now, so push keeps it without taking another), or -1 when it would be
   * skipped (counted as push counts it).
   */
  wants(status: number, reason: string, tStart: number, detail: number, now: number): number {
    if (status >= 400 || status === 0 || (reason !== '' && reason !== ORDINARY_REASON)) return detail;
    if (now - tStart >= this.options.slowMs || detail === 1) return detail;
    if (detail === 0 && this.take(now)) return 1;
    this.offered++;
    this.skipped++;
    return -1;
  }

  /** Request path (AccessRecordSink): the keep decision and a copy into the oldest slot. */
  push(rec: AccessRecord, now: number): void {
    this.offered++;
    let kept: KeptBecause;
    if (rec.status >= 400 || rec.status === 0 || (rec.reason !== '' && rec.reason !== ORDINARY_REASON)) kept = 'error';
    else if (now - rec.tStart >= this.options.slowMs) kept = 'slow';
    else if (rec.detail === 1 || (rec.detail === 0 && this.take(now))) kept = 'sampled';
    else {
      this.skipped++;
      return;
    }
    const slot = this.slots[this.next];
    this.next = (this.next + 1) % this.slots.length;
    if (this.count < this.slots.length) this.count++;
    slot.id = rec.requestId;
    const t0 = rec.tAccepted !== 0 ? rec.tAccepted : rec.tStart;
    slot.wall = (this.options.wallNow ?? Date.now)() - (now - t0);
    slot.method = rec.method;
    slot.host = rec.host;
    slot.path = rec.path;
    slot.status = rec.status;
    slot.route = rec.route;
    slot.pool = rec.pool;
    slot.backend = rec.backend;
    slot.protocol = rec.protocol;
    slot.client = rec.client;
    slot.reason = rec.reason;
    slot.traceId = rec.traceId;
    slot.attempts = rec.attempts;
    // a copy: the record's set is the request's own; only a retried request allocates it
    slot.tried = rec.attempts > 1 && rec.tried !== null ? [...rec.tried] : null;
    slot.bytesIn = rec.bytesIn;
    slot.bytesOut = rec.bytesOut;
    slot.kept = kept;
    slot.tStart = rec.tStart;
    slot.tArrived = rec.tArrived;
    slot.tHead = rec.tHead;
    slot.tAttempt = rec.tAttempt;
    slot.tConnected = rec.tConnected;
    slot.tFirstByte = rec.tFirstByte;
    slot.tEnd = now;
    slot.serverTiming = rec.upstreamTiming;
    slot.tAccepted = rec.tAccepted;
    slot.tTls = rec.tTls;
    slot.earlier = rec.earlier;
    const pool = rec.pickPool;
    slot.hasPick = false;
    if (pool !== null && pool.copyPick !== undefined) slot.hasPick = pool.copyPick(rec.pickSeq, (slot.pick ??= new PickSnapshot()));
    const names = rec.filterNames;
    slot.filterNames = names;
    if (names !== null && rec.filterTimes !== null) {
      const size = names.length * FILTER_TIMES;
      if (slot.filterTimes === null || slot.filterTimes.length < size) slot.filterTimes = new Float64Array(size);
      slot.filterTimes.set(rec.filterTimes.subarray(0, size));
    }
  }

  /** The kept requests that pass `query`, newest first (admin side: allocates freely). */
  query(query: RecentQuery = {}): RecentRequest[] {
    const limit = query.limit ?? this.slots.length;
    const out: RecentRequest[] = [];
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const slot = this.slots[(this.next - i + this.slots.length) % this.slots.length];
      if (!statusMatches(query.status ?? '', slot.status)) continue;
      if (query.route && slot.route !== query.route) continue;
      if (query.pool && slot.pool !== query.pool) continue;
      if (query.backend && slot.backend !== query.backend) continue;
      if (query.requestId && slot.id !== query.requestId) continue;
      out.push(view(slot));
    }
    return out;
  }
}

/** A filter's phase as [from, to] ms after t0, null when it did not run. */
function phaseOf(times: Float64Array, start: number, end: number, t0: number): [number, number] | null {
  if (times[start] === 0) return null;
  return [since(times[start], t0), times[end] === 0 ? -1 : since(times[end], t0)];
}

function filtersOf(slot: Slot, t0: number): RecentFilter[] {
  const names = slot.filterNames;
  const times = slot.filterTimes;
  if (names === null || times === null) return [];
  return names.map((name, i) => {
    const o = i * FILTER_TIMES;
    return {
      name,
      request: phaseOf(times, o + T_REQUEST_START, o + T_REQUEST_END, t0),
      upstream: phaseOf(times, o + T_UPSTREAM_START, o + T_UPSTREAM_END, t0),
      response: phaseOf(times, o + T_RESPONSE_START, o + T_RESPONSE_END, t0),
      body: phaseOf(times, o + T_BODY_START, o + T_BODY_END, t0),
    };
  });
}

function view(slot: Slot): RecentRequest {
  // the first request of a TLS connection begins at the TCP accept (its handshake is part of its wait)
  const t0 = slot.tAccepted !== 0 ? slot.tAccepted : slot.tStart;
  // an HTTP/2 or HTTP/3 stream begins when its HEADERS were read: that is its head time
  const head = slot.tHead !== 0 ? slot.tHead : slot.protocol !== '' ? slot.tStart : 0;
  return {
    id: slot.id,
    time: Math.round(slot.wall),
    method: slot.method,
    host: slot.host,
    path: slot.path,
    status: slot.status,
    route: slot.route,
    pool: slot.pool,
    backend: slot.backend,
    protocol: slot.protocol,
    client: slot.client,
    reason: slot.reason,
    traceId: slot.traceId,
    attempts: slot.attempts,
    tried: slot.tried ?? [],
    bytesIn: slot.bytesIn,
    bytesOut: slot.bytesOut,
    kept: slot.kept,
    phases: { tls: since(slot.tTls, t0), arrived: since(slot.tArrived, t0), head: since(head, t0), pick: since(slot.tAttempt, t0), connected: since(slot.tConnected, t0), firstByte: since(slot.tFirstByte, t0), done: since(slot.tEnd, t0) },
    serverTiming: slot.serverTiming,
    filters: filtersOf(slot, t0),
    pick: slot.hasPick && slot.pick !== null ? pickView(slot.pick) : null,
    earlierAttempts: (slot.earlier ?? []).map((a) => ({ backend: a.backend, pick: since(a.tPick, t0), connected: since(a.tConnected, t0), firstByte: since(a.tFirstByte, t0), done: since(a.tEnd, t0), outcome: a.outcome })),
  };
}

/** Merges several planes' answers (one per worker), newest first, at most `limit`. */
export function mergeRecent(lists: RecentRequest[][], limit: number): RecentRequest[] {
  return lists.flat().sort((a, b) => b.time - a.time).slice(0, limit);
}

/**
 * What a traffic plane hands its listeners as their one sink: the span exporter (when configured) and
 * the recent-requests ring, which is always on.
 */
export class RecordSinks implements AccessRecordSink {
  readonly active = true;
  private readonly spans: AccessRecordSink;
  private readonly recent: RecentRequests;

  constructor(spans: AccessRecordSink, recent: RecentRequests) {
    this.spans = spans;
    this.recent = recent;
  }

  push(record: AccessRecord, now: number): void {
    if (this.spans.active) this.spans.push(record, now);
    this.recent.push(record, now);
  }

  detail(status: number, elapsed: number, now: number): boolean {
    return this.recent.detail(status, elapsed, now);
  }

  wants(status: number, reason: string, tStart: number, detail: number, now: number): number {
    return this.spans.active ? detail : this.recent.wants(status, reason, tStart, detail, now);
  }
}
