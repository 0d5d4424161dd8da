// The bounded queue between the request path and the exporter: finished requests as a few numbers and
// references to strings the request already had, in preallocated columns (no object per request). When
// it is full the oldest request is overwritten and counted as dropped: a slow or absent collector costs
// spans, never memory or latency.
import { FILTER_TIMES } from '../core/index.ts';
import type { AccessRecord, EarlierAttempt } from '../l7/index.ts';
import { PickSnapshot } from '../pool/index.ts';

/** Numeric columns per slot. */
const N_START = 0;
const N_HEAD = 1;
const N_CONNECTED = 2;
const N_FIRST_BYTE = 3;
const N_END = 4;
/** Wall-clock milliseconds minus monotonic milliseconds when the request ended. */
const N_WALL = 5;
const N_STATUS = 6;
const N_ATTEMPTS = 7;
const N_ATTEMPT = 8;
const N_ACCEPTED = 9;
const N_TLS = 10;
const N_ARRIVED = 11;
const NUMBERS = 12;

/** One request as the encoder reads it (a view of a slot, filled by take()). */
export interface QueuedRequest {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  method: string;
  path: string;
  host: string;
  client: string;
  route: string;
  pool: string;
  backend: string;
  protocol: string;
  /** Backends that failed before the last attempt (retries), in order. */
  tried: readonly string[];
  /** Monotonic ms (0: the phase did not happen) and the wall-clock offset that turns them into epoch ms. */
  tStart: number;
  tHead: number;
  tConnected: number;
  tFirstByte: number;
  tEnd: number;
  /** When the last try picked its backend (0: not recorded). */
  tAttempt: number;
  /** A TLS connection's first request: its accept and handshake end (0 otherwise). */
  tAccepted: number;
  tTls: number;
  /** The first request of an HTTP/1.1 connection: when its first byte came (tStart is the accept); 0 otherwise. */
  tArrived: number;
  /** What the last pick considered (the slot's own copy, valid like filterTimes); null when not recorded. */
  pick: PickSnapshot | null;
  /**
   * The route's filters and their phase times (filters/chain.ts layout), null when none. The times are the
   * slot's own array: valid until the ring takes another request (the exporter encodes in the same turn).
   */
  filterNames: readonly string[] | null;
  filterTimes: Float64Array | null;
  /** The tries before the last one with their times (empty when not retried, or not recorded). */
  earlier: readonly EarlierAttempt[];
  wallOffset: number;
  status: number;
  attempts: number;
}

const NO_TRIES: readonly string[] = [];
const NO_EARLIER: readonly EarlierAttempt[] = [];

export class RequestRing {
  readonly capacity: number;
  private readonly numbers: Float64Array;
  private readonly strings: string[];
  private readonly tried: (readonly string[] | null)[];
  /** A retried request's own array of earlier tries (never reused by the request path: kept by reference). */
  private readonly earlier: (readonly EarlierAttempt[] | null)[];
  /** Per slot: the filter names (the chain's own list) and a copy of the times (grown to the longest chain held). */
  private readonly filterNames: (readonly string[] | null)[];
  private readonly filterTimes: (Float64Array | null)[];
  /** Per slot: a copy of the last pick (allocated the first time the slot holds one) and whether it is the queued request's. */
  private readonly picks: (PickSnapshot | null)[];
  private readonly hasPick: Uint8Array;
  /** Index of the oldest queued request and how many are queued. */
  private head = 0;
  count = 0;
  /** Requests overwritten before they were exported. */
  dropped = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.numbers = new Float64Array(capacity * NUMBERS);
    this.strings = new Array<string>(capacity * 11).fill('');
    this.tried = new Array<readonly string[] | null>(capacity).fill(null);
    this.earlier = new Array<readonly EarlierAttempt[] | null>(capacity).fill(null);
    this.filterNames = new Array<readonly string[] | null>(capacity).fill(null);
    this.filterTimes = new Array<Float64Array | null>(capacity).fill(null);
    this.picks = new Array<PickSnapshot | null>(capacity).fill(null);
    this.hasPick = new Uint8Array(capacity);
  }

  /** Copies the record (request path: stores only, no allocation). */
  push(rec: AccessRecord, now: number, wallOffset: number): void {
    let slot: number;
    if (this.count === this.capacity) {
      slot = this.head;
      this.head = (this.head + 1) % this.capacity;
      this.dropped++;
    } else {
      slot = (this.head + this.count) % this.capacity;
      this.count++;
    }
    const n = this.numbers;
    const b = slot * NUMBERS;
    n[b + N_START] = rec.tStart;
    n[b + N_HEAD] = rec.tHead;
    n[b + N_CONNECTED] = rec.tConnected;
    n[b + N_FIRST_BYTE] = rec.tFirstByte;
    n[b + N_END] = now;
    n[b + N_WALL] = wallOffset;
    n[b + N_STATUS] = rec.status;
    n[b + N_ATTEMPTS] = rec.attempts;
    n[b + N_ATTEMPT] = rec.tAttempt;
    n[b + N_ACCEPTED] = rec.tAccepted;
    n[b + N_TLS] = rec.tTls;
    n[b + N_ARRIVED] = rec.tArrived;
    const pool = rec.pickPool;
    this.hasPick[slot] = 0;
    if (pool !== null && pool.copyPick !== undefined && pool.copyPick(rec.pickSeq, (this.picks[slot] ??= new PickSnapshot()))) this.hasPick[slot] = 1;
    const s = this.strings;
    const o = slot * 11;
    s[o] = rec.traceId;
    s[o + 1] = rec.spanId;
    s[o + 2] = rec.parentSpanId;
    s[o + 3] = rec.method;
    s[o + 4] = rec.path;
    s[o + 5] = rec.host;
    s[o + 6] = rec.client;
    s[o + 7] = rec.route;
    s[o + 8] = rec.pool;
    s[o + 9] = rec.backend;
    s[o + 10] = rec.protocol;
    // a copy: the record's set may be reused; only a retried request allocates it
    this.tried[slot] = rec.attempts > 1 && rec.tried !== null ? [...rec.tried] : null;
    this.earlier[slot] = rec.earlier;
    const names = rec.filterTimes !== null ? rec.filterNames : null;
    this.filterNames[slot] = names;
    if (names !== null) {
      // a copy: an HTTP/1.1 connection's array goes to its next request (allocated once per slot, grown rarely)
      const size = names.length * FILTER_TIMES;
      let times = this.filterTimes[slot];
      if (times === null || times.length < size) times = this.filterTimes[slot] = new Float64Array(size);
      times.set(rec.filterTimes!.subarray(0, size));
    }
  }

  /** Removes up to `max` of the oldest requests, handing each to `visit` as a fresh object (export side). */
  take(max: number, visit: (request: QueuedRequest) => void): number {
    const taken = Math.min(max, this.count);
    for (let i = 0; i < taken; i++) {
      const slot = this.head;
      const n = this.numbers;
      const b = slot * NUMBERS;
      const s = this.strings;
      const o = slot * 11;
      const tried = this.tried[slot];
      const earlier = this.earlier[slot];
      visit({
        traceId: s[o],
        spanId: s[o + 1],
        parentSpanId: s[o + 2],
        method: s[o + 3],
        path: s[o + 4],
        host: s[o + 5],
        client: s[o + 6],
        route: s[o + 7],
        pool: s[o + 8],
        backend: s[o + 9],
        protocol: s[o + 10],
        tried: tried ?? NO_TRIES,
        tStart: n[b + N_START],
        tHead: n[b + N_HEAD],
        tConnected: n[b + N_CONNECTED],
        tFirstByte: n[b + N_FIRST_BYTE],
        tEnd: n[b + N_END],
        tAttempt: n[b + N_ATTEMPT],
        tAccepted: n[b + N_ACCEPTED],
        tTls: n[b + N_TLS],
        tArrived: n[b + N_ARRIVED],
        pick: this.hasPick[slot] === 1 ? this.picks[slot] : null,
        filterNames: this.filterNames[slot],
        filterTimes: this.filterNames[slot] !== null ? this.filterTimes[slot] : null,
        earlier: earlier ?? NO_EARLIER,
        wallOffset: n[b + N_WALL],
        status: n[b + N_STATUS],
        attempts: n[b + N_ATTEMPTS],
      });
      // release the strings: a queued slot must not keep a finished request's path alive for long
      s.fill('', o, o + 11);
      this.tried[slot] = null;
      this.earlier[slot] = null;
      this.filterNames[slot] = null;
      this.head = (slot + 1) % this.capacity;
      this.count--;
    }
    return taken;
  }
}
