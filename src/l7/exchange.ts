// ProxyExchange: one HTTP/1.1 request's life on a downstream connection — route, pick upstream, connect,
// send the rewritten head (with the first body bytes), stream the body both ways with backpressure,
// relay the response, then hand the connection back (keep-alive, pipelining) or tunnel after a 101.
// Methods are on the prototype (no per-request closures); the upstream socket calls back through
// UpstreamOwner.
import type { Readable } from 'node:stream';
import type { Lease, LeaseOutcome, BalanceInput } from '../pool/index.ts';
import type { UpstreamPool, UpstreamSettings } from './types.ts';
import type { ListenerRuntime } from './runtime.ts';
import type { CompiledRoute } from './router/router.ts';
import type { ProxyAction } from './router/actions.ts';
import { QUEUED, type UpstreamConnection, type UpstreamOwner } from './upstream/connector.ts';
import type { HttpConnection } from './connection.ts';
import type { RequestHead } from './parse/request-head.ts';
import type { ChunkSink } from './parse/chunked.ts';
import { BODY_NONE, BODY_LENGTH, BODY_CHUNKED } from './parse/request-head.ts';
import type { HttpListenerImpl } from './listener.ts';
import { relayResponseHead, relayResponseBody } from './response-relay.ts';
import { upstreamRequestHead, clientBehindProxies, requestIdFor, joinedHeader, sentRequestId, sentTracestate } from './upstream-head.ts';
import { edgeTimingOf } from './edge-timing.ts';
import { answerLocalRoute, answerLocalError, answerError, answerFilter } from './local-answers.ts';
import { FilterSlots, isPending, type BodySink, type EdgeRequest, type FilterContext, type HttpFilter, type RequestVerdict } from './filters/index.ts';
import { answerDns, dohRequestBody } from './doh-exchange.ts';
import { onUpstreamEnd, onUpstreamClosed, onDeadline, upstreamFailed } from './upstream-failure.ts';
import { P_ROUTING, P_CONNECTING, P_WAITING, P_RESPONDING, P_TUNNEL, P_DONE, copyOf } from './phases.ts';
import { NO_RETRY } from './retry-policy.ts';
import { ATTEMPT_KEEPALIVE_RACE, type Attempts } from './attempts.ts';
import { retryOnAnotherBackend } from './retry.ts';
import { parseTraceparent, tokenMatches } from './trace-context.ts';
import { ForeignRelay, isForeignPool } from './foreign-relay.ts';
import { RequestBuffer, type BufferOwner } from './request-buffer.ts';
import type { UpstreamResponse } from './upstream-response.ts';
import { CONTINUE_100 } from './local-response.ts';
import { failureReason } from './reasons.ts';
import { peekBodyPrefix } from './body-prefix.ts';
import { acmeKeyAuthorization } from './acme-answer.ts';

const EMPTY_BODY = Buffer.alloc(0);
/** Framing bytes (chunk sizes, extensions) tolerated beyond 8× the wanted prefix while reading ahead. */
const MAX_PREFIX_FRAMING = 64 * 1024;

export class ProxyExchange implements UpstreamOwner, BalanceInput, ChunkSink, BufferOwner, FilterContext, EdgeRequest {
  readonly conn: HttpConnection;
  readonly rt: ListenerRuntime;
  readonly head: RequestHead;
  phase = P_ROUTING;
  route: CompiledRoute | null = null;
  action: ProxyAction | null = null;
  pool: UpstreamPool | null = null;
  /**
   * The tries against the pool (attempts.ts): lease, retry decision, budget, kept body, earlier tries. The
   * connection's one object, reset here: a connection runs one exchange at a time and the exchange ends
   * the lease and the budget's hold in finish(), before the next one starts.
   */
  readonly attempts: Attempts;
  upstream: UpstreamConnection | null = null;
  clientAddress: string;
  status = 0;
  /** Request body framing and progress. */
  reqDone: boolean;
  private reqRemaining: number;
  /** Body bytes read but not yet written to the current try's upstream. */
  heldBody: Buffer[] | null = null;
  /** request_buffering: the body being read whole before an upstream is picked, then sent from here on every try. */
  body: RequestBuffer | null = null;
  /** The body is still being buffered (no upstream picked yet). */
  buffering = false;
  /** When the whole request body must have arrived (timeouts.body_total), on the listener's clock. */
  private bodyDeadline = 0;
  /** Waiting in this backend's connection queue (max_connections reached); '' when not. */
  queuedAt = '';
  /** The current try's request head (and what was stashed) went upstream. */
  headSent = false;
  /** Response parsing and relaying. */
  /** The upstream response's reading state (upstream-response.ts), borrowed from the connection. */
  readonly response: UpstreamResponse;
  continueSent = false;
  closeAfter = false;
  bytesIn = 0;
  bytesOut = 0;
  readonly tStart: number;
  /** When the request's first byte arrived: the base of the edge's Server-Timing `start` offsets. */
  readonly tArrived: number;
  readonly tHead: number;
  tConnected = 0;
  tFirstByte = 0;
  outcome: LeaseOutcome = 'success';
  reusedUpstream = false;
  /** A static file being streamed (static-route.ts), destroyed if the client leaves. */
  staticStream: Readable | null = null;
  settings: UpstreamSettings | null = null;
  /**
   * W3C trace context of a proxied request (trace-context.ts), made when first read (the getters below): a
   * request answered by a filter with the access log off (a cache hit) draws no random ids.
   */
  private traced = false;
  private traceIdValue = '';
  private spanIdValue = '';
  private traceFlagsValue = '01';
  private traceContinuedValue = false;
  private traceParentValue = '';
  /** The request id, made when first read ('' until the route is proxied; null: not made yet). */
  private requestIdValue: string | null = null;
  /** x-switchyard-trace carried the admin token: the response reports the edge's phases. */
  debugTrace = false;
  /** The recent-requests ring's verdict at the response head (AccessRecord.detail) and what it kept. */
  detail = 0;
  upstreamTiming = '';
  upstreamEnded = false;
  downstreamEnded = false;
  /** Set when the pool speaks HTTP/2 and deps.foreignUpstream took the request (foreign-relay.ts). */
  foreign: ForeignRelay | null = null;
  /** An async request filter is deciding: nothing after the head is consumed until it settles. */
  filtersPending = false;
  /** Body bytes the request filters want to see before they run (read ahead, not consumed); 0 when none. */
  private prefixWanted = 0;
  /** The body's first bytes, for FilterContext.bodyPrefix(). */
  private prefix: Buffer | null = null;
  /** FilterContext.stash values; null until a filter stashes one. */
  private filterSlots: FilterSlots | null = null;
  /** A backend a filter asked for (sticky): BalanceInput.preferredBackend. */
  preferredBackend = '';
  /** The access log's `reason` (reasons.ts): set by edge-made answers and filters; '' when none. */
  reason = '';
  /** A response filter's body transform: the upstream's body (payload, framing decoded) goes in here. */
  bodySink: (BodySink & { abort?(): void }) | null = null;
  /** The transform was told the body ended (its output may still be flushing). */
  bodySinkEnded = false;
  /** The transform's input is full (a compressor behind the upstream): a downstream drain does not resume the upstream. */
  transformHeld = false;
  /** A `dns` route's POST body while it arrives (doh-exchange.ts), how much of it has, and since when. */
  dohBody: Buffer | null = null;
  dohFill = 0;
  bodyStart = 0;
  /** A `dns` route waits for the DNS engine's answer. */
  dohWaiting = false;
  /** FilterContext.filterTimes: the connection's reused array while the route has filters, else null. */
  filterTimes: Float64Array | null = null;
  /** The connection's first request: its waterfall begins at the accept (and shows TLS). */
  private readonly first: boolean;

  constructor(conn: HttpConnection, rt: ListenerRuntime, head: RequestHead, tStart: number, tArrived: number, now: number) {
    this.conn = conn;
    this.rt = rt;
    this.head = head;
    this.tStart = tStart;
    this.tArrived = tArrived;
    this.tHead = now;
    this.first = conn.requests === 1;
    this.clientAddress = conn.peer;
    this.attempts = conn.attempts;
    this.response = conn.response;
    this.response.reset();
    this.attempts.reset();
    this.bytesIn = head.raw.length;
    this.reqDone = head.bodyKind === BODY_NONE;
    this.reqRemaining = head.contentLength;
    if (head.bodyKind === BODY_CHUNKED) conn.reqChunked.reset();
  }

  // the tries, as the head writer, the response filters and the edge's Server-Timing read them
  get lease(): Lease | null {
    return this.attempts.lease;
  }
  get tAttempt(): number {
    return this.attempts.tPick;
  }
  get retryReason(): string {
    return this.attempts.reason;
  }
  get tried(): ReadonlySet<string> | null {
    return this.attempts.tried;
  }
  get staleRetries(): number {
    return this.attempts.staleResends;
  }

  // BalanceInput: a view of the request for balancers (allocates only when a policy asks)
  get path(): string {
    return this.head.path;
  }
  header(name: string): string | undefined {
    return this.head.header(name.toLowerCase());
  }
  cookie(name: string): string | undefined {
    return this.head.cookie(name);
  }
  // FilterContext (the rest is above and in the fields)
  get method(): string {
    return this.head.method;
  }
  get host(): string {
    return this.head.authority;
  }
  get scheme(): 'http' | 'https' {
    return this.rt.scheme;
  }
  get query(): string {
    const target = this.head.target;
    const q = target.indexOf('?');
    return q < 0 ? '' : target.slice(q + 1);
  }
  get routeName(): string {
    return this.route?.name ?? '';
  }
  stash(filter: HttpFilter, value: unknown): void {
    (this.filterSlots ??= new FilterSlots()).set(filter, value);
  }
  stashed(filter: HttpFilter): unknown {
    return this.filterSlots?.get(filter);
  }
  preferBackend(id: string): void {
    this.preferredBackend = id;
  }
  bodyPrefix(): Buffer {
    return this.prefix ?? EMPTY_BODY;
  }
  setReason(code: string): void {
    this.reason = this.reason === '' ? code : `${this.reason},${code}`;
  }
  // EdgeRequest, for the built-in filters (the trace fields are below)
  get edge(): EdgeRequest {
    return this;
  }
  get peerAddress(): string {
    return this.conn.peer;
  }
  get peerTrusted(): boolean {
    return !this.rt.trusted.empty && this.conn.peerTrusted(this.rt);
  }
  get localPort(): number {
    return this.conn.localPort;
  }
  joinedHeader(name: string): string {
    return joinedHeader(this, name);
  }
  get sentRequestId(): string | undefined {
    return sentRequestId(this);
  }
  get sentTracestate(): boolean {
    return sentTracestate(this);
  }
  edgeTiming(): string {
    return edgeTimingOf(this);
  }


  /**
   * Routes and starts the exchange; buf[bs, be) holds bytes read after the head (body, or the next
   * pipelined request). Returns how many of them belong to this request's body, or -1 when the
   * connection was closed.
   */
  start(buf: Buffer, bs: number, be: number): number {
    const head = this.head;
    const rt = this.rt;
    if (head.bodyKind === BODY_LENGTH && head.contentLength > rt.maxBodySize) return answerLocalError(this, 413, bs, true);
    // ACME http-01 comes before routing: the CA must reach the token whatever the routes say
    const acme = this.conn.listener.acmeHttp;
    if (acme !== undefined && acme.size !== 0) {
      const keyAuthorization = acmeKeyAuthorization(acme, head.path);
      if (keyAuthorization !== undefined) {
        this.reason = 'acme_challenge';
        return answerFilter(this, { status: 200, headers: ['content-type', 'application/octet-stream'], body: keyAuthorization }, bs);
      }
    }
    const route = rt.router.match(head.method, head.hostname, head.path, head);
    this.route = route;
    if (route === null) return answerLocalError(this, 404, bs, false);
    const action = route.action;
    if (action.kind === 'dns') return answerDns(this, buf, bs, be);
    if (action.kind !== 'proxy') return answerLocalRoute(this, action, bs);
    this.action = action;
    const pool = rt.pools.get(action.pool);
    if (pool === undefined) return answerLocalError(this, 503, bs, false);
    this.pool = pool;
    if (this.conn.peerTrusted(rt)) this.clientAddress = clientBehindProxies(this);
    this.checkDebugTrace();
    // "request filters": one may answer here instead of the upstream
    const filters = route.filters;
    if (filters !== null) {
      this.filterTimes = this.conn.filterTimesFor(filters.names.length);
      // filters that read the body: its first bytes are read ahead (kept by the connection) before they run
      if (filters.bodyPrefix > 0 && head.bodyKind !== BODY_NONE && !head.upgrade) {
        this.prefixWanted = filters.bodyPrefix;
        this.conn.setDeadline(rt.bodyTimeout);
        // after the connection kept buf[bs, be): it holds every byte after the head until the filters decide
        queueMicrotask(() => this.checkBodyPrefix());
        return bs;
      }
      const answer = filters.onRequest(this);
      if (answer !== undefined) {
        if (!isPending(answer)) return answerFilter(this, answer, bs);
        this.waitForFilters(answer);
        return bs;
      }
    }
    return this.proceed(buf, bs, be);
  }

  /**
   * The body's first bytes for filters that read them: once the connection holds enough (or the whole
   * body), the request filters run on them; until then it keeps reading, within timeouts.body. The bytes
   * stay the connection's: the request then proceeds from the first body byte as it would have.
   */
  private checkBodyPrefix(): void {
    if (this.phase === P_DONE || this.prefixWanted === 0) return;
    const held = this.conn.heldBytes();
    const prefix = peekBodyPrefix(this.head, held.buf, held.s, held.e, this.prefixWanted);
    if (prefix === 'bad' || (prefix === 'more' && held.e - held.s > MAX_PREFIX_FRAMING + this.prefixWanted * 8)) {
      this.prefixWanted = 0;
      this.reason = 'bad_body';
      answerLocalError(this, 400, 0, true);
      return;
    }
    if (prefix === 'more') {
      this.conn.resumeReading();
      return;
    }
    this.prefixWanted = 0;
    this.prefix = prefix;
    this.conn.pauseReading();
    try {
      const answer = this.route!.filters!.onRequest(this);
      if (answer === undefined) this.conn.resumeExchange(this, (buf: Buffer, bs: number, be: number) => this.proceed(buf, bs, be));
      else if (!isPending(answer)) this.conn.resumeExchange(this, (_buf: Buffer, bs: number) => answerFilter(this, answer, bs));
      else this.waitForFilters(answer);
    } catch (err) {
      this.filtersFailed(err);
    }
  }

  /**
   * An async request filter is deciding: the connection stops reading and keeps every byte after the head
   * (body, or a pipelined request) until it settles, so nothing reaches an upstream before the verdict.
   * The wait is bounded by upstream_response (route, else listener): a filter that hangs gets a 503.
   */
  private waitForFilters(verdict: Promise<RequestVerdict>): void {
    this.filtersPending = true;
    this.conn.pauseReading();
    this.conn.setDeadline(this.action!.responseTimeout >= 0 ? this.action!.responseTimeout : this.rt.responseTimeout);
    verdict.then(
      (answer) => this.filtersSettled(answer),
      (err: unknown) => this.filtersFailed(err),
    );
  }

  private filtersSettled(answer: RequestVerdict): void {
    if (this.phase === P_DONE || !this.filtersPending) return;
    this.filtersPending = false;
    try {
      this.conn.resumeExchange(this, answer !== undefined ? (_buf: Buffer, bs: number) => answerFilter(this, answer, bs) : (buf: Buffer, bs: number, be: number) => this.proceed(buf, bs, be));
    } catch (err) {
      this.conn.listener.internalError(this.conn, err);
    }
  }

  private filtersFailed(err: unknown): void {
    if (this.phase === P_DONE || !this.filtersPending) return;
    this.filtersPending = false;
    this.conn.listener.filterFailed(this.route?.name ?? '', err);
    answerError(this, 500, 'cancelled');
  }

  /** After the request filters let the request through: to the upstream (buf[bs, be) as in start()). */
  private proceed(buf: Buffer, bs: number, be: number): number {
    const head = this.head;
    const rt = this.rt;
    const pool = this.pool!;
    const action = this.action!;
    if (this.conn.listener.foreignUpstream !== undefined && !head.upgrade && isForeignPool(pool)) {
      const used = new ForeignRelay(this).start(pool, buf, bs, be);
      if (used !== false) return used;
    }
    const settings = rt.settingsFor(pool);
    this.settings = settings;
    const retry = settings.retry ?? NO_RETRY;
    const bodyLength = head.bodyKind === BODY_NONE ? 0 : head.bodyKind === BODY_LENGTH ? head.contentLength : -1;
    this.attempts.begin(pool, this, retry, retry.attempts > 0 ? this.conn.listener.retryBudget(pool.name) : null, this.tHead, head.method, bodyLength, ATTEMPT_KEEPALIVE_RACE);
    if (head.bodyKind !== BODY_NONE) {
      this.bodyDeadline = this.tHead + rt.bodyTotalTimeout;
      if (this.buffers(action, be - bs)) return this.startBuffering(action, buf, bs, be);
    }
    const lease = this.attempts.pick();
    if (lease === undefined) {
      answerError(this, 503, 'cancelled');
      return -1;
    }
    // the head's clock reading serves as the pick's, unless filters ran in between (or a verdict was awaited)
    if (!this.connectTo(lease, this.filterTimes !== null ? this.conn.listener.now() : this.tHead, false)) return -1;
    return this.acceptBody(buf, bs, be);
  }

  /**
   * Whether this request's body is buffered before an upstream is picked: request_buffering on (route,
   * else listener), not an upgrade, and not a Content-Length body that already arrived whole with the head
   * (`available` bytes): that one is complete and goes out with the head in one write, as it is.
   */
  private buffers(action: ProxyAction, available: number): boolean {
    if (!(action.bufferingEnabled ?? this.rt.bufferingEnabled) || this.head.upgrade) return false;
    return !(this.head.bodyKind === BODY_LENGTH && available >= this.head.contentLength);
  }

  private startBuffering(action: ProxyAction, buf: Buffer, bs: number, be: number): number {
    const head = this.head;
    this.buffering = true;
    this.body = new RequestBuffer(action.bufferingMemoryMax ?? this.rt.bufferingMemoryMax, this.conn.listener.spill, this);
    // the edge takes the body itself: it answers the client's 100-continue (and the upstream gets no Expect)
    if (head.expectContinue && head.minor === 1) {
      this.continueSent = true;
      this.conn.write(CONTINUE_100);
    }
    return this.bufferBody(buf, bs, be);
  }

  /** Body bytes while buffering. Same contract as requestBody(). */
  private bufferBody(buf: Buffer, s: number, e: number): number {
    const end = this.frameBody(buf, s, e);
    if (end < 0 || this.phase === P_DONE) return -1;
    const body = this.body!;
    if (this.reqDone) body.complete();
    else {
      if (body.full) this.conn.pauseReading();
      this.conn.deadline = this.bodyReadDeadline(this.conn.listener.now());
    }
    return end;
  }

  /** The next body read must come before the per-read timeout, and the whole body before body_total. */
  private bodyReadDeadline(now: number): number {
    const next = now + this.rt.bodyTimeout;
    return next < this.bodyDeadline ? next : this.bodyDeadline;
  }

  // ---- BufferOwner (called from spill I/O callbacks too: a bug drops this connection only) ----

  bodyBuffered(): void {
    if (this.phase === P_DONE || !this.buffering) return;
    this.buffering = false;
    try {
      const lease = this.attempts.pick();
      if (lease === undefined) return answerError(this, 503, 'cancelled');
      if (this.connectTo(lease, this.conn.listener.now(), false)) this.sendWhenConnected();
    } catch (err) {
      this.conn.listener.internalError(this.conn, err);
    }
  }

  bodyBufferFailed(status: number): void {
    if (this.phase === P_DONE) return;
    try {
      upstreamFailed(this, status, 'cancelled');
    } catch (err) {
      this.conn.listener.internalError(this.conn, err);
    }
  }

  bodyBufferDrained(): void {
    if (this.phase !== P_DONE && !this.reqDone) this.conn.resumeReading();
  }

  /** The request id: the client's when usable, else the listener's next; '' when off or not proxied. */
  get requestId(): string {
    if (this.requestIdValue !== null) return this.requestIdValue;
    if (this.pool === null) return '';
    return (this.requestIdValue = this.rt.requestIdName !== '' ? requestIdFor(this) : '');
  }

  get traceId(): string {
    if (!this.traced) this.startTrace();
    return this.traceIdValue;
  }
  get spanId(): string {
    if (!this.traced) this.startTrace();
    return this.spanIdValue;
  }
  get traceFlags(): string {
    if (!this.traced) this.startTrace();
    return this.traceFlagsValue;
  }
  /** The client's traceparent was valid: its trace continues (and its tracestate passes through). */
  get traceContinued(): boolean {
    if (!this.traced) this.startTrace();
    return this.traceContinuedValue;
  }
  /** The client's span id when its trace was continued, else ''. */
  get traceParent(): string {
    if (!this.traced) this.startTrace();
    return this.traceParentValue;
  }

  /**
   * Continues the client's trace (a valid traceparent) or starts one; the edge's span is new either way.
   * A request that is not proxied has none.
   */
  private startTrace(): void {
    if (this.pool === null) return;
    this.traced = true;
    const head = this.head;
    const listener = this.conn.listener;
    const incoming = head.traceparentAt >= 0 ? parseTraceparent(head.value(head.traceparentAt)) : null;
    if (incoming !== null) {
      this.traceIdValue = incoming.traceId;
      this.traceFlagsValue = incoming.flags;
      this.traceContinuedValue = true;
      this.traceParentValue = incoming.parentId;
      this.spanIdValue = listener.traceIds.next(8);
    } else {
      const ids = listener.traceIds.nextTraceAndSpan();
      this.traceIdValue = ids.slice(0, 32);
      this.spanIdValue = ids.slice(32);
    }
  }

  /** x-switchyard-trace with the admin token: the response reports the edge's phases. */
  private checkDebugTrace(): void {
    const head = this.head;
    if (head.debugTraceAt >= 0) this.debugTrace = tokenMatches(head.value(head.debugTraceAt), this.conn.listener.traceToken);
  }

  /**
   * "pick upstream" done: get a connection to the leased backend for this try (`fresh` skips idle ones).
   * Returns false after answering 503 when the backend's connection limit and its queue are full. When it
   * returns true with phase P_WAITING the connection is ready (a reused one) and the caller sends the head;
   * with P_CONNECTING it connects, or waits in the queue (upstreamAssigned ends the wait).
   */
  connectTo(lease: Lease, now: number, fresh: boolean): boolean {
    this.attempts.start(lease, now);
    const backend = lease.backend;
    const upstream = this.conn.listener.connector.acquire(backend.id, backend.host, backend.port, this.settings!, this, fresh);
    if (upstream === null) {
      this.attempts.abandon();
      answerError(this, 503, 'cancelled');
      return false;
    }
    if (upstream === QUEUED) {
      this.queuedAt = backend.id;
      this.phase = P_CONNECTING;
      this.conn.deadline = now + this.settings!.queueTimeout;
      this.conn.pauseReading();
      return true;
    }
    this.upstream = upstream;
    this.reusedUpstream = upstream.uses > 1;
    if (upstream.connected) {
      // a reused connection is ready at once
      this.tConnected = now;
      this.phase = P_WAITING;
      return true;
    }
    this.phase = P_CONNECTING;
    this.conn.setDeadline(this.rt.connectTimeout);
    this.conn.pauseReading();
    return true;
  }

  /**
   * The next try (retry.ts): the failed try's connection and response state are dropped, the body it sent
   * goes back to the stash, and `lease` is connected (`fresh`: not an idle connection, after the keep-alive
   * race). A ready connection gets the head (and the stash) now, else on connect.
   */
  nextTry(lease: Lease, now: number, fresh: boolean): void {
    const old = this.upstream;
    this.upstream = null;
    old?.destroy();
    if (this.headSent) {
      this.heldBody = this.attempts.takeResend();
      this.headSent = false;
    }
    this.response.reset();
    this.tFirstByte = 0;
    this.tConnected = 0;
    if (this.connectTo(lease, now, fresh)) this.sendWhenConnected();
  }

  private sendWhenConnected(): void {
    if (this.phase === P_WAITING) this.upstreamConnectedNow();
  }

  /** First body bytes, right after the head: sent with the head when the upstream is ready. */
  private acceptBody(buf: Buffer, bs: number, be: number): number {
    let end = bs;
    if (!this.reqDone) {
      end = this.frameBody(buf, bs, be);
      if (end < 0) return -1;
    }
    if (this.phase === P_WAITING) {
      // a reused connection: tConnected is the pick's clock reading (the head's, unless filters ran)
      this.sendHead(buf, bs, end, this.tConnected);
      this.attempts.keepRange(buf, bs, end);
    } else if (end > bs) {
      this.stashBody(buf, bs, end);
    }
    return end;
  }

  private stashBody(buf: Buffer, s: number, e: number): void {
    (this.heldBody ??= []).push(copyOf(buf, s, e));
  }

  /** Finds where the body ends inside buf[s, e) and checks limits; -1 (after answering) when invalid. */
  private frameBody(buf: Buffer, s: number, e: number): number {
    let end: number;
    if (this.head.bodyKind === BODY_LENGTH) {
      const take = e - s < this.reqRemaining ? e - s : this.reqRemaining;
      this.reqRemaining -= take;
      end = s + take;
      if (this.buffering) this.body!.add(buf, s, end);
      if (this.reqRemaining === 0) this.reqDone = true;
    } else {
      const decoder = this.conn.reqChunked;
      // buffered: the decoder hands the payload to the buffer (it goes upstream with a Content-Length)
      end = decoder.decode(buf, s, e, this.buffering ? this.body : null);
      if (end < 0) {
        this.abortRequest(400);
        return -1;
      }
      if (decoder.payload > this.rt.maxBodySize) {
        this.abortRequest(413);
        return -1;
      }
      if (decoder.done) this.reqDone = true;
    }
    this.bytesIn += end - s;
    return end;
  }

  /** Later request body bytes from the downstream connection. Same contract as start(). */
  requestBody(buf: Buffer, s: number, e: number): number {
    // a read that was under way when the filters' wait paused the socket: kept by the connection
    if (this.filtersPending) return s;
    // reading ahead for the filters: the connection holds the bytes, the filters look at them
    if (this.prefixWanted > 0) {
      this.conn.holdBytes(buf, s, e);
      this.checkBodyPrefix();
      return e;
    }
    if (this.foreign !== null) return this.foreign.requestBody(buf, s, e);
    if (this.buffering) return this.bufferBody(buf, s, e);
    if (this.dohBody !== null) return dohRequestBody(this, buf, s, e);
    const end = this.frameBody(buf, s, e);
    if (end < 0) return -1;
    if (end > s) {
      if (this.headSent) {
        if (!this.upstream!.writer.write(buf, s, end)) this.conn.pauseReading();
        this.attempts.keepRange(buf, s, end);
      } else {
        this.stashBody(buf, s, end);
      }
    }
    // while connecting, the connect deadline stands; once sent, body progress (then the response) counts
    if (this.phase === P_WAITING) {
      const now = this.conn.listener.now();
      this.conn.deadline = this.reqDone ? now + this.tryTimeout() : this.bodyReadDeadline(now);
    }
    if (this.reqDone && this.response.done) this.finish();
    return end;
  }

  /** How long this try waits for the response head: upstream_response (route, listener), or per_try_timeout when shorter and `timeout` is retried. */
  tryTimeout(): number {
    const override = this.action?.responseTimeout ?? -1;
    return this.attempts.tryTimeout(override >= 0 ? override : this.rt.responseTimeout);
  }

  /** `now`: a clock reading taken in this same tick (for the next deadline). */
  private sendHead(buf: Buffer | null, bs: number, be: number, now: number): void {
    const body = this.body;
    // a buffered body held in one chunk (most small ones) goes out in the head's write
    const single = body === null ? null : body.single;
    const out = single !== null ? upstreamRequestHead(this, single, 0, single.length) : upstreamRequestHead(this, buf, bs, be);
    this.headSent = true;
    const socket = this.upstream!.socket;
    let ok = socket.write(out);
    if (body !== null && single === null) ok = body.writeTo(socket);
    if (this.heldBody !== null) {
      // what arrived while connecting (and, on a retry, what the failed try had sent): kept for a resend as it goes
      for (const chunk of this.heldBody) {
        ok = socket.write(chunk);
        this.attempts.keep(chunk);
      }
      this.heldBody = null;
    }
    if (!ok) this.conn.pauseReading();
    this.conn.deadline = this.reqDone ? now + this.tryTimeout() : this.bodyReadDeadline(now);
  }

  // ---- UpstreamOwner ----

  upstreamAssigned(conn: UpstreamConnection): void {
    this.queuedAt = '';
    this.upstream = conn;
    this.reusedUpstream = conn.uses > 1;
    this.conn.setDeadline(this.rt.connectTimeout);
  }

  upstreamConnected(_conn: UpstreamConnection): void {
    if (this.phase !== P_CONNECTING) return;
    this.tConnected = this.conn.listener.now();
    this.phase = P_WAITING;
    this.upstreamConnectedNow();
  }

  private upstreamConnectedNow(): void {
    this.sendHead(null, 0, 0, this.tConnected);
    if (!this.reqDone) this.conn.resumeReading();
    else this.conn.resumeReadingForPipeline();
  }

  upstreamDrain(): void {
    if (this.phase === P_TUNNEL || !this.reqDone) this.conn.resumeReading();
  }

  upstreamData(buf: Buffer, s: number, e: number): void {
    if (this.tFirstByte === 0) this.tFirstByte = this.conn.listener.now();
    if (this.phase === P_TUNNEL) {
      this.relayDown(buf, s, e);
      this.conn.setDeadline(this.rt.tunnelIdleTimeout);
      return;
    }
    if (this.phase === P_RESPONDING) {
      relayResponseBody(this, buf, s, e);
      return;
    }
    if (this.phase !== P_WAITING) {
      this.upstream?.destroy();
      return;
    }
    relayResponseHead(this, buf, s, e);
  }

  /** ChunkSink: decoded payload for an HTTP/1.0 client. */
  chunkData(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    if (this.bodySink !== null) {
      this.bodySink.write(copyOf(buf, start, end));
      return;
    }
    this.relayDown(buf, start, end);
  }

  /**
   * The upstream's body is all read. With a body transform the end goes through it, and the response
   * completes when the transform has written its last bytes (DownstreamBodySink.end).
   */
  upstreamBodyDone(): void {
    this.response.ended();
    const sink = this.bodySink;
    if (sink === null) return this.responseComplete();
    if (this.bodySinkEnded) return;
    this.bodySinkEnded = true;
    sink.end();
  }

  responseComplete(): void {
    this.response.ended();
    if (!this.reqDone) {
      // answered before the body was all sent: the body's end is unknown to both sides now
      this.response.notReusable();
      this.closeAfter = true;
    }
    this.finish();
  }

  downstreamDrain(): void {
    if (this.staticStream !== null) this.staticStream.resume();
    if (this.foreign !== null) this.foreign.drain();
    if (this.upstream !== null && !this.transformHeld && this.upstream.socket.isPaused()) this.upstream.socket.resume();
  }

  upstreamEnd(): void {
    onUpstreamEnd(this);
  }

  upstreamClosed(_error: Error | undefined, connected: boolean): void {
    onUpstreamClosed(this, connected);
  }

  /** A final upstream status listed in `retries.on`: true when the response is discarded and the request went elsewhere. */
  retryStatus(status: number): boolean {
    return this.attempts.retriesOn(status) && retryOnAnotherBackend(this, status, 'http_5xx');
  }

  /** Downstream bytes after a 101. */
  tunnelData(buf: Buffer, s: number, e: number): void {
    this.bytesIn += e - s;
    if (this.upstream === null) return;
    if (!this.upstream.writer.write(buf, s, e)) this.conn.pauseReading();
    this.conn.setDeadline(this.rt.tunnelIdleTimeout);
  }

  /** The downstream sent EOF. */
  downstreamEnd(): void {
    this.downstreamEnded = true;
    if (this.phase === P_TUNNEL) {
      this.upstream?.socket.end();
      if (this.upstreamEnded) this.finish();
    }
  }

  // ---- endings ----

  /** Deadline passed (the connection's sweep calls this). */
  timedOut(): void {
    if (this.prefixWanted > 0) {
      // the body's first bytes did not come within timeouts.body: nothing went upstream
      this.prefixWanted = 0;
      return answerError(this, 408, 'cancelled');
    }
    if (this.filtersPending) {
      this.filtersPending = false;
      return answerError(this, 503, 'cancelled');
    }
    if (this.foreign !== null) return this.foreign.timedOut();
    // the body did not arrive in time (per read or body_total): nothing went upstream
    if (this.buffering || this.dohBody !== null) return upstreamFailed(this, 408, 'cancelled');
    // the DNS engine (its resolver) did not answer a DoH query within timeouts.upstream_response
    if (this.dohWaiting) return upstreamFailed(this, 504, 'timeout');
    // no connection came free within connection_queue.timeout
    if (this.queuedAt !== '') return answerError(this, 503, 'cancelled');
    onDeadline(this);
  }

  /** The request body was bad (400) or too large (413): answered when possible, the upstream dropped. */
  private abortRequest(status: number): void {
    upstreamFailed(this, status, this.outcome === 'success' ? 'cancelled' : this.outcome);
  }

  /** Client went away or the connection is being torn down. */
  /** The request body will not be read (a local answer): unless it has all come, the connection closes after. */
  skipBody(): void {
    if (!this.reqDone) this.closeAfter = true;
    this.reqDone = true;
  }

  /** Why the edge answered, unless a filter said already (the access log's reason). */
  noteReason(code: string): void {
    if (this.reason === '') this.reason = code;
  }

  /** Bytes of the response written downstream (counted for bytes_out); false when the client's buffer is full. */
  writeDown(out: Buffer): boolean {
    this.bytesOut += out.length;
    return this.conn.write(out);
  }

  /**
   * Upstream bytes buf[s, e) written downstream as they are (counted for bytes_out); a full client buffer
   * pauses the upstream until the downstream drains.
   */
  relayDown(buf: Buffer, s: number, e: number): void {
    this.bytesOut += e - s;
    if (!this.conn.writeRange(buf, s, e)) this.upstream?.socket.pause();
  }

  /** A whole answer made here: written, and the exchange finished. */
  answerWhole(status: number, out: Buffer): void {
    this.status = status;
    this.writeDown(out);
    this.responseDone();
  }

  /** The response's last byte went downstream. */
  responseDone(): void {
    this.response.ended();
    this.finish();
  }

  /** A 101 from the upstream: from now on bytes are relayed both ways as they come. */
  tunnelling(): void {
    this.status = 101;
    this.phase = P_TUNNEL;
  }

  /** The response's head went downstream and its body follows (a stream). */
  responding(status: number): void {
    this.status = status;
    this.phase = P_RESPONDING;
  }

  /** The response had started and cannot be completed: the client sees it cut short (the connection is dropped). */
  cutShort(outcome: LeaseOutcome): void {
    this.outcome = outcome;
    this.finish();
    this.conn.destroy();
  }

  /** The current try's upstream connection is given up, with the outcome its lease ends with. */
  dropUpstream(outcome: LeaseOutcome): void {
    this.outcome = outcome;
    const upstream = this.upstream;
    this.upstream = null;
    upstream?.destroy();
  }

  abort(): void {
    if (this.phase === P_DONE) return;
    if (this.staticStream !== null) {
      this.staticStream.destroy();
      this.staticStream = null;
    }
    if (this.outcome === 'success' && this.phase !== P_TUNNEL) this.outcome = 'cancelled';
    this.foreign?.abort();
    const upstream = this.upstream;
    this.upstream = null;
    upstream?.destroy();
    if (this.status === 0) this.status = 499;
    this.finish();
  }

  willClose(): boolean {
    return this.closeAfter || !this.head.keepAlive || this.conn.mustCloseAfter();
  }

  keepAliveHeader(): boolean {
    return this.head.minor === 0 && this.head.keepAlive;
  }

  finish(): void {
    if (this.phase === P_DONE) return;
    const wasTunnel = this.phase === P_TUNNEL;
    this.phase = P_DONE;
    // a transformed body cut before its end: the transform drops what it holds (a cache stores nothing)
    if (this.bodySink !== null && !this.bodySinkEnded) {
      this.bodySinkEnded = true;
      this.bodySink.abort?.();
    }
    if (this.staticStream !== null) {
      this.staticStream.destroy();
      this.staticStream = null;
    }
    const listener = this.conn.listener;
    const now = listener.now();
    if (this.queuedAt !== '') {
      listener.connector.cancelWait(this.queuedAt, this);
      this.queuedAt = '';
    }
    const upstream = this.upstream;
    this.upstream = null;
    if (upstream !== null) {
      const reusable = this.response.reusable && this.reqDone && this.response.done && !wasTunnel && this.outcome === 'success' && (this.body === null || !this.body.sending);
      listener.connector.release(upstream, reusable, now);
    }
    if (this.body !== null) {
      this.body.dispose();
      this.buffering = false;
    }
    this.attempts.end(this.outcome, this.status);
    if (this.rt.accessLog) {
      // with the log off, a request that neither the spans nor the requests ring keeps fills no record
      const verdict = this.foreign !== null ? this.detail : listener.recordVerdict(this.status, this.accessReason(), this.tStart, this.detail, now);
      if (verdict >= 0) {
        this.detail = verdict;
        this.logAccess(listener, now);
      }
    }
    // the connection's array goes to its next request: a filter verdict that settles later writes nothing
    this.filterTimes = null;
    listener.requestDone(this.route?.name ?? '', this.pool?.name ?? '', this.status, now - this.tStart);
    this.conn.exchangeDone(this, this.willClose() || wasTunnel, now);
  }

  /** The access record's reason: a filter's or the edge's own, else the failure's; '' for an ordinary answer. */
  private accessReason(): string {
    return this.reason !== '' ? this.reason : this.outcome !== 'success' ? failureReason(this.status, this.outcome) : '';
  }

  /** Fills the listener's access record from this exchange and writes the line. */
  private logAccess(listener: HttpListenerImpl, now: number): void {
    const rec = listener.accessBatch.record;
    const head = this.head;
    rec.requestId = this.requestId;
    rec.client = this.clientAddress;
    rec.method = head.method;
    rec.host = head.authority;
    rec.path = head.path;
    rec.status = this.status;
    rec.bytesIn = this.bytesIn;
    rec.bytesOut = this.bytesOut;
    rec.route = this.route?.name ?? '';
    rec.pool = this.pool?.name ?? '';
    // a request to an HTTP/2 pool: the upstream core there holds the lease and counts the tries
    const foreign = this.foreign?.tries;
    const attempts = foreign?.attempts ?? this.attempts;
    rec.backend = attempts.backend;
    rec.protocol = '';
    rec.minor = head.minor;
    rec.headers = head;
    rec.traceId = this.traceId;
    rec.spanId = this.spanId;
    rec.parentSpanId = this.traceParent;
    rec.traceFlags = this.traceFlags;
    rec.reason = this.accessReason();
    rec.attempts = attempts.tries;
    rec.tried = attempts.tried;
    rec.tStart = this.tStart;
    rec.tArrived = this.tArrived > this.tStart ? this.tArrived : 0;
    rec.tHead = this.tHead;
    rec.tAttempt = attempts.tPick;
    rec.tConnected = foreign !== undefined ? (foreign.connectedAt ?? 0) : this.tConnected;
    rec.grpcStatus = this.foreign?.grpcStatus ?? '';
    rec.tFirstByte = this.tFirstByte;
    rec.upstreamTiming = foreign !== undefined ? (foreign.serverTiming ?? '') : this.upstreamTiming;
    rec.detail = foreign !== undefined ? (foreign.detailVerdict ?? 0) : this.detail;
    rec.tAccepted = this.first ? this.conn.tAccepted : 0;
    rec.tTls = this.first ? this.conn.tTls : 0;
    const filters = this.route?.filters ?? null;
    rec.filterNames = filters !== null && this.filterTimes !== null ? filters.names : null;
    rec.filterTimes = rec.filterNames !== null ? this.filterTimes : null;
    rec.earlier = attempts.earlier;
    rec.pickSeq = attempts.pickSeq;
    rec.pickPool = rec.pickSeq !== 0 ? this.pool : null;
    listener.writeAccess(rec, now);
  }
}

