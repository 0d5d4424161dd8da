// Bridge for other codecs (HTTP/2): proxies one request that another codec already parsed through this
// listener's router and the HTTP/1.1 upstream path (same connection pools, same access log). It builds
// the upstream head from the codec's field list (bridge-head.ts), and shares what the HTTP/1.1 path
// shares: the listener's ResponseHead (one per exchange allocated two typed arrays with off-heap backing
// stores) and the listener's deadline sweep instead of a timer per exchange and phase (together +13 %
// HTTP/2 req/s in a profiled run).
import { EdgeError } from '../core/index.ts';
import type { Lease, LeaseOutcome, BalanceInput } from '../pool/index.ts';
import type { HttpListenerImpl } from './listener.ts';
import type { ListenerRuntime } from './runtime.ts';
import type { ProxyAction, StaticAction } from './router/actions.ts';
import { StaticBridge } from './static-bridge.ts';
import type { ExchangeRequest, ExchangeDownstream, ExchangeHandle, UpstreamPool } from './types.ts';
import { Attempts, ATTEMPT_KEEPALIVE_RACE } from './attempts.ts';
import { QUEUED, type UpstreamConnection, type UpstreamOwner } from './upstream/connector.ts';
import { upstreamTarget, redirectLocation } from './router/actions.ts';
import { hostnameOf } from './parse/request-head.ts';
import { type ResponseHead, parseResponseHead, BODY_UNTIL_CLOSE, BODY_CHUNKED, BODY_LENGTH, BODY_NONE, H_HIDDEN } from './parse/response-head.ts';
import { H_CONNECTION, H_HOP, H_UPGRADE, H_TRANSFER_ENCODING } from './parse/request-head.ts';
import { ChunkedDecoder } from './parse/chunked.ts';
import { findHeadEnd } from './parse/chars.ts';
import { clientFromChain } from './forwarded.ts';
import { reasonPhrase } from './reason.ts';
import { normalizePath } from './parse/path.ts';
import { edgeServerTiming } from './edge-timing.ts';
import { bridgeTrace, bridgeRequestHead, firstValue, joinedValues, requestField, soleValue, type BridgeTrace } from './bridge-head.ts';
import { NO_RETRY, R_CONNECT_ERROR, R_RESET, R_TIMEOUT } from './retry-policy.ts';
import { RequestBuffer, type BufferOwner } from './request-buffer.ts';
import { FILTER_TIMES, FilteredDownstream, FilterSlots, isPending, localResponseFields, usableRequestId, type EdgeRequest, type FilterChain, type FilterContext, type HttpFilter, type LocalResponse, type RequestVerdict } from './filters/index.ts';
import { cookieValue } from './parse/cookie.ts';
import { DOH_ALLOW, DOH_MAX_MESSAGE, dohAnswerFields, dohBodyStatus, dohGetMessage, dohPostStatus } from './doh.ts';
import { failureReason, REASON_HEADER, reasonValue, refusedReason } from './reasons.ts';
import { tokenMatches } from './trace-context.ts';
import { COMMON_NAMES, commonName, commonValue } from './bridge-fields.ts';

const EMPTY_BODY = Buffer.alloc(0);

/**
 * A downstream that takes response bytes still in the shared read buffer and copies what it must keep
 * itself (the HTTP/2 codec's stream: a small body goes into its DATA frame without a Buffer of its own).
 */
interface BytesDownstream extends ExchangeDownstream {
  sendBytes(buf: Buffer, start: number, end: number): boolean;
}

const RESPONSE_DROP = (1 << H_CONNECTION) | (1 << H_HOP) | (1 << H_UPGRADE) | (1 << H_TRANSFER_ENCODING) | (1 << H_HIDDEN);

export function bridgeExchange(listener: HttpListenerImpl, request: ExchangeRequest, downstream: ExchangeDownstream): ExchangeHandle {
  const exchange = new BridgeExchange(listener, listener.runtime, request, downstream);
  exchange.start();
  return exchange;
}

class BridgeExchange implements UpstreamOwner, ExchangeHandle, BalanceInput, BufferOwner, FilterContext, EdgeRequest {
  private readonly listener: HttpListenerImpl;
  private readonly rt: ListenerRuntime;
  private readonly request: ExchangeRequest;
  /** The codec's stream: local answers go here. */
  private readonly downstream: ExchangeDownstream;
  /** The downstream when it takes bytes of the read buffer (BytesDownstream), else null. */
  private readonly direct: BytesDownstream | null;
  /** Where the upstream's response goes: the downstream, through the route's response filters when it has some. */
  private out: ExchangeDownstream;
  /** `out` when it is the response filters (its body transform may end after the upstream's end). */
  private filtered: FilteredDownstream | null = null;
  /** The normalised path (parse/path.ts) and target (path + query) that route and go upstream. */
  readonly path: string;
  private readonly target: string;
  /** The path must be refused (400): an encoded separator, NUL, `..` above the root… */
  private readonly badPath: boolean;
  clientAddress: string;
  private action: ProxyAction | null = null;
  private pool: UpstreamPool | null = null;
  private upstream: UpstreamConnection | null = null;
  /** Set while a `static` route streams a file. */
  private staticFiles: StaticBridge | null = null;
  routeName = '';
  /** The route's filters (router.ts); null when it has none. */
  private filters: FilterChain | null = null;
  /** An async request filter is deciding: body chunks wait in pendingBody, nothing goes upstream. */
  private filtersPending = false;
  /** Body bytes the request filters want to see before they run (collected in pendingBody); 0 when none. */
  private prefixWanted = 0;
  /** The body's first bytes, for FilterContext.bodyPrefix(). */
  private prefix: Buffer | null = null;
  private filterSlots: FilterSlots | null = null;
  /** A backend a filter asked for (sticky): BalanceInput.preferredBackend. */
  preferredBackend = '';
  /** The access log's `reason` (reasons.ts); '' when none. */
  private reason = '';
  /** A filter answered for a failed upstream (onUpstreamFailure): the stream ends normally. */
  private answeredAfterFailure = false;
  requestId = '';
  /** Request body chunks that arrived before the upstream was connected (most requests have none). */
  private pendingBody: Buffer[] | null = null;
  /** A `dns` route's POST body while it arrives (DNS over HTTPS, at most 65535 bytes). */
  private dohChunks: Buffer[] | null = null;
  /** A `dns` route waits for the DNS engine's answer. */
  private dohWaiting = false;
  /** A `dns` route's refusal (405, 415) held until the request body has ended (see dohRefuse). */
  private dohRefusal = 0;
  private bodyEnded: boolean;
  /** Request body bytes received so far (checked against the request's content-length). */
  private bodyBytes = 0;
  /** request_buffering: the body read whole before an upstream is picked, resent from here on a retry. */
  private reqBody: RequestBuffer | null = null;
  private buffering = false;
  /** When the whole request body must have arrived (timeouts.body_total). */
  private bodyDeadline = 0;
  private headSent = false;
  /** Waiting in this backend's connection queue (max_connections reached); '' when not. */
  private queuedAt = '';
  /** From the response head, copied out of the listener's shared ResponseHead. */
  private resKeepAlive = true;
  private resAcc: Buffer | null = null;
  private resStarted = false;
  private resKind = BODY_NONE;
  private resRemaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private done = false;
  private status = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  /** When the current phase times out (listener.now() scale); 0: no deadline. Checked by the listener's sweep. */
  deadline = 0;
  private watched = false;
  private readonly tStart: number;
  private tConnected = 0;
  private tFirstByte = 0;
  /** The recent-requests ring's verdict at the response head (AccessRecord.detail) and what it kept. */
  private detail = 0;
  private upstreamTiming = '';
  private reused = false;
  /** W3C trace context (bridge-head.ts): the edge's span continues the client's trace or starts one. */
  private trace: BridgeTrace | null = null;
  /** The tries against the pool (attempts.ts): lease, retry decision, budget, kept body, earlier tries. */
  readonly attempts = new Attempts();
  /** FilterContext.filterTimes: this stream's own array when the route has filters. */
  filterTimes: Float64Array | null = null;

  constructor(listener: HttpListenerImpl, rt: ListenerRuntime, request: ExchangeRequest, downstream: ExchangeDownstream) {
    this.listener = listener;
    this.rt = rt;
    this.request = request;
    this.downstream = downstream;
    this.direct = typeof (downstream as Partial<BytesDownstream>).sendBytes === 'function' ? (downstream as BytesDownstream) : null;
    this.out = downstream;
    const q = request.path.indexOf('?');
    const rawPath = q < 0 ? request.path : request.path.slice(0, q);
    const normal = rawPath === '*' ? rawPath : normalizePath(rawPath);
    this.badPath = normal === null;
    this.path = normal ?? rawPath;
    this.target = normal === null || normal === rawPath ? request.path : normal + (q < 0 ? '' : request.path.slice(q));
    this.clientAddress = request.peerAddress;
    this.bodyEnded = request.contentLength === 0;
    this.tStart = listener.now();
  }

  header(name: string): string | undefined {
    return requestField(this.request.headers, name.toLowerCase());
  }

  // FilterContext (path, clientAddress, requestId and header() are above)
  get method(): string {
    return this.request.method;
  }
  get host(): string {
    return this.request.authority;
  }
  get scheme(): 'http' | 'https' {
    return this.request.scheme;
  }

  get query(): string {
    const q = this.target.indexOf('?');
    return q < 0 ? '' : this.target.slice(q + 1);
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

  cookie(name: string): string | undefined {
    const h = this.request.headers;
    for (let i = 0; i < h.length; i += 2) {
      if (h[i] !== 'cookie') continue;
      const value = cookieValue(h[i + 1], name);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  start(): void {
    const rt = this.rt;
    const req = this.request;
    const hostname = hostnameOf(req.authority);
    if (this.badPath) {
      this.reason = refusedReason(400);
      return this.local(400, [], '400 bad request\n');
    }
    const route = rt.router.match(req.method, hostname, this.path, this);
    this.routeName = route?.name ?? '';
    if (route === null) {
      this.reason = refusedReason(404);
      return this.local(404, [], '404 not found\n');
    }
    const action = route.action;
    if (action.kind === 'redirect') {
      const location = redirectLocation(action, req.scheme, hostname, req.authority, this.target);
      return this.local(action.status, ['location', location], `${action.status} ${reasonPhrase(action.status).toLowerCase()}\n`);
    }
    if (action.kind === 'respond') return this.local(action.status, action.fields, action.body);
    if (action.kind === 'static') return this.serveStatic(action);
    if (action.kind === 'dns') return this.dohStart();
    this.action = action;
    const pool = rt.pools.get(action.pool);
    if (pool === undefined) return this.fail(503, 'cancelled');
    this.pool = pool;
    if (rt.trusted.contains(req.peerAddress)) this.clientAddress = clientFromChain(joinedValues(req.headers, 'x-forwarded-for'), req.peerAddress, rt.trusted);
    if (rt.requestIdName !== '') this.requestId = usableRequestId(soleValue(req.headers, rt.requestIdName)) ?? this.listener.nextRequestId();
    this.trace = bridgeTrace(req.headers, this.listener.traceIds, this.listener.traceToken);
    // "request filters": one may answer here instead of the upstream
    const filters = route.filters;
    this.filters = filters;
    if (filters !== null) {
      this.filterTimes = new Float64Array(filters.names.length * FILTER_TIMES);
      if (filters.editsResponse) this.filterResponses(filters);
      // filters that read the body: its first bytes arrive (into pendingBody) before they run
      if (filters.bodyPrefix > 0 && !this.bodyEnded) {
        this.prefixWanted = filters.bodyPrefix;
        this.arm(rt.bodyTimeout);
        return;
      }
      return this.runRequestFilters(filters);
    }
    this.proceed();
  }

  private runRequestFilters(filters: FilterChain): void {
    const answer = filters.onRequest(this);
    if (answer === undefined) return this.proceed();
    if (!isPending(answer)) return this.answer(answer);
    this.waitForFilters(answer);
  }

  /** Reading ahead for the filters: once pendingBody holds enough (or the whole body), they run. */
  private checkBodyPrefix(): void {
    if (this.done || this.prefixWanted === 0) return;
    const held = this.pendingBody ?? [];
    let length = 0;
    for (const chunk of held) length += chunk.length;
    if (length < this.prefixWanted && !this.bodyEnded) return this.armBodyRead();
    const joined = held.length === 1 ? held[0] : Buffer.concat(held);
    this.prefix = joined.length > this.prefixWanted ? joined.subarray(0, this.prefixWanted) : joined;
    this.prefixWanted = 0;
    this.deadline = 0;
    try {
      this.runRequestFilters(this.filters!);
    } catch (err) {
      this.listener.filterFailed(this.routeName, err);
      this.fail(500, 'cancelled');
    }
  }

  private armBodyRead(): void {
    this.arm(this.rt.bodyTimeout);
  }

  /**
   * An async request filter is deciding: the codec stops delivering the body (what already came waits in
   * pendingBody), bounded by upstream_response; a filter that hangs gets a 503.
   */
  private waitForFilters(verdict: Promise<RequestVerdict>): void {
    this.filtersPending = true;
    this.downstream.pauseBody();
    this.arm(this.responseTimeout());
    verdict.then(
      (answer) => {
        if (this.done || !this.filtersPending) return;
        this.filtersPending = false;
        this.deadline = 0;
        this.downstream.resumeBody();
        try {
          if (answer !== undefined) this.answer(answer);
          else this.proceed();
        } catch (err) {
          this.listener.internalError(null, err);
          this.fail(502, 'cancelled');
        }
      },
      (err: unknown) => {
        if (this.done || !this.filtersPending) return;
        this.filtersPending = false;
        this.listener.filterFailed(this.routeName, err);
        this.fail(500, 'cancelled');
      },
    );
  }

  /** After the request filters let the request through: the body's rules, then "pick upstream". */
  private proceed(): void {
    const rt = this.rt;
    const req = this.request;
    const pool = this.pool!;
    const action = this.action!;
    const retry = rt.settingsFor(pool).retry ?? NO_RETRY;
    this.attempts.begin(pool, this, retry, retry.attempts > 0 ? this.listener.retryBudget(pool.name) : null, this.tStart, req.method, req.contentLength, ATTEMPT_KEEPALIVE_RACE);
    if (!this.bodyEnded) {
      if (req.contentLength > rt.maxBodySize) return this.refuse(413);
      this.bodyDeadline = this.tStart + rt.bodyTotalTimeout;
      if (action.bufferingEnabled ?? rt.bufferingEnabled) {
        // the body is read whole (and its length checked) before an upstream is picked
        this.buffering = true;
        this.reqBody = new RequestBuffer(action.bufferingMemoryMax ?? rt.bufferingMemoryMax, this.listener.spill, this);
        // what arrived while request filters decided
        const early = this.pendingBody;
        this.pendingBody = null;
        if (early !== null) for (const chunk of early) this.reqBody.add(chunk, 0, chunk.length);
        this.armBody();
        return;
      }
    }
    this.pickAndConnect();
  }

  /** "pick upstream" for the first try. */
  private pickAndConnect(): void {
    const lease = this.attempts.pick();
    if (lease === undefined) return this.fail(503, 'cancelled');
    this.connectTo(lease, false);
  }

  /** The next body chunk must come within timeouts.body, and the whole body within body_total. */
  private armBody(now = this.listener.now()): void {
    this.arm(Math.min(this.rt.bodyTimeout, this.bodyDeadline - now));
  }

  // ---- BufferOwner (called from spill I/O callbacks too: a bug fails this exchange only) ----

  bodyBuffered(): void {
    if (this.done || !this.buffering) return;
    this.buffering = false;
    try {
      this.pickAndConnect();
    } catch (err) {
      this.listener.internalError(null, err);
      this.fail(502, 'cancelled');
    }
  }

  bodyBufferFailed(status: number): void {
    this.refuse(status);
  }

  bodyBufferDrained(): void {
    if (!this.done) this.downstream.resumeBody();
  }

  /**
   * The request cannot go (on) upstream: its body broke its content-length (400), came too slowly (408),
   * passed limits.max_body_size (413) or could not be buffered. The upstream connection, if one carried
   * part of it, is closed, never pooled.
   */
  private refuse(status: number): void {
    if (this.done) return;
    const upstream = this.upstream;
    this.upstream = null;
    upstream?.destroy();
    if (this.resStarted) return this.finishWith(null, 'cancelled');
    this.status = status;
    const error = new EdgeError(status === 408 ? 'SY_ERR_BODY_TIMEOUT' : status === 413 ? 'SY_ERR_BODY_TOO_LARGE' : 'SY_ERR_BAD_REQUEST', `l7 ${this.rt.name}: ${reasonPhrase(status).toLowerCase()}`, { source: 'downstream', status, retry: 'final' });
    this.finishWith(error, 'cancelled');
  }

  /** "pick upstream" done: a connection to the leased backend (`fresh` skips idle ones). */
  private connectTo(lease: Lease, fresh: boolean): void {
    const now = this.listener.now();
    this.attempts.start(lease, now);
    const backend = lease.backend;
    const settings = this.rt.settingsFor(this.pool!);
    const upstream = this.listener.connector.acquire(backend.id, backend.host, backend.port, settings, this, fresh);
    if (upstream === null) return this.fail(503, 'cancelled');
    if (upstream === QUEUED) {
      this.queuedAt = backend.id;
      this.arm(settings.queueTimeout);
      return;
    }
    this.upstream = upstream;
    this.reused = upstream.uses > 1;
    if (upstream.connected) this.writeHead(now);
    else this.arm(this.rt.connectTimeout, now);
  }

  /**
   * The current try failed with `kind` (attempts.ts decides, as on every path): after a reset, the
   * keep-alive race's resend on a fresh connection first, else another backend. Only while nothing of the
   * response went downstream. Returns true when another try started.
   */
  private retryFailed(kind: number, outcome: LeaseOutcome): boolean {
    if (this.done || this.resStarted) return false;
    const attempts = this.attempts;
    const now = this.listener.now();
    const times = { tConnected: this.tConnected, tFirstByte: this.tFirstByte };
    const fresh = kind === R_RESET ? attempts.resendFresh(this.headSent, this.reused, now, times) : undefined;
    const next = fresh ?? attempts.retry(kind, outcome, this.headSent, now, times);
    if (next === undefined) return false;
    const old = this.upstream;
    this.upstream = null;
    old?.destroy();
    if (this.headSent) {
      // what the failed try had sent goes first (a buffered body is written from its buffer again)
      this.pendingBody = attempts.takeResend();
      this.headSent = false;
    }
    this.resAcc = null;
    this.tFirstByte = 0;
    this.tConnected = 0;
    this.connectTo(next, fresh !== undefined);
    return true;
  }

  /** `now`: a clock reading taken in this same turn, when the caller has one. */
  private arm(ms: number, now = this.listener.now()): void {
    this.deadline = now + ms;
    if (!this.watched) {
      this.watched = true;
      this.listener.watchDeadline(this);
    }
  }

  /** Called by the listener's sweep once `deadline` has passed. */
  timedOut(): void {
    this.deadline = 0;
    if (this.done) return;
    if (this.filtersPending) {
      this.filtersPending = false;
      return this.fail(503, 'cancelled');
    }
    if (this.prefixWanted > 0) {
      this.prefixWanted = 0;
      return this.refuse(408);
    }
    // the body did not arrive in time (per read, or body_total): 408, and an upstream that got part of it is closed
    if (this.buffering || this.dohChunks !== null || (this.headSent && !this.bodyEnded && !this.resStarted)) return this.refuse(408);
    // the DNS engine (its resolver) did not answer a DoH query within timeouts.upstream_response
    if (this.dohWaiting) return this.fail(504, 'timeout');
    // no connection came free within connection_queue.timeout
    if (this.queuedAt !== '') return this.fail(503, 'cancelled');
    if (this.resStarted) {
      this.finishWith(null, 'timeout');
      return;
    }
    // a connect timeout counts as a connect error (nothing was sent)
    if (this.retryFailed(this.headSent ? R_TIMEOUT : R_CONNECT_ERROR, 'timeout')) return;
    this.fail(504, 'timeout');
  }

  upstreamAssigned(conn: UpstreamConnection): void {
    this.queuedAt = '';
    this.upstream = conn;
    this.reused = conn.uses > 1;
    if (!conn.connected) this.arm(this.rt.connectTimeout);
  }

  upstreamConnected(_conn: UpstreamConnection): void {
    this.writeHead(this.listener.now());
  }

  /** The connection is up (`now`): the request head goes, then the body that came so far. */
  private writeHead(now: number): void {
    this.tConnected = now;
    const action = this.action!;
    const target = upstreamTarget(action, this.target, this.path);
    const host = action.upstreamHost === 'backend' ? this.attempts.backend : this.request.authority;
    const head = bridgeRequestHead(this.rt, this.request, target, host, this.reqBody !== null ? this.reqBody.length : this.request.contentLength, this.filters, this);
    const socket = this.upstream!.socket;
    socket.write(head);
    this.headSent = true;
    if (this.reqBody !== null) {
      if (!this.reqBody.writeTo(socket)) this.downstream.pauseBody();
      this.arm(this.responseTimeout(), now);
      return;
    }
    const pending = this.pendingBody;
    this.pendingBody = null;
    if (pending !== null) for (const chunk of pending) this.writeBody(chunk);
    if (this.bodyEnded) {
      this.endBody();
      this.arm(this.responseTimeout(), now);
    } else this.armBody(now);
  }

  /** How long this try waits for the response head: upstream_response (route, listener), or per_try_timeout when shorter. */
  private responseTimeout(): number {
    const override = this.action?.responseTimeout ?? -1;
    return this.attempts.tryTimeout(override >= 0 ? override : this.rt.responseTimeout);
  }

  private writeBody(chunk: Buffer): void {
    const socket = this.upstream!.socket;
    let ok: boolean;
    if (this.request.contentLength < 0) {
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
    } else ok = socket.write(chunk);
    this.attempts.keep(chunk);
    if (!ok) this.downstream.pauseBody();
  }

  private endBody(): void {
    if (this.request.contentLength < 0) this.upstream?.socket.write('0\r\n\r\n', 'latin1');
  }

  // ExchangeHandle
  bodyData(chunk: Buffer): void {
    if (this.done || chunk.length === 0) return;
    this.bytesIn += chunk.length;
    this.bodyBytes += chunk.length;
    // more DATA than content-length: never forwarded (the codec resets such a stream too)
    if (this.request.contentLength >= 0 && this.bodyBytes > this.request.contentLength) return this.refuse(400);
    if (this.bodyBytes > this.rt.maxBodySize) return this.refuse(413);
    if (this.dohChunks !== null) {
      if (this.bodyBytes > DOH_MAX_MESSAGE) return this.local(413, [], '413 content too large\n');
      if (this.dohRefusal === 0) this.dohChunks.push(Buffer.from(chunk));
      this.armBody();
      return;
    }
    if (this.buffering) {
      if (!this.reqBody!.add(chunk, 0, chunk.length)) this.downstream.pauseBody();
      this.armBody();
      return;
    }
    if (this.bodyDeadline !== 0 && this.headSent && !this.resStarted) this.armBody();
    const copy = Buffer.from(chunk);
    if (this.headSent && this.upstream !== null) this.writeBody(copy);
    else (this.pendingBody ??= []).push(copy);
    if (this.prefixWanted > 0) this.checkBodyPrefix();
  }

  bodyEnd(): void {
    if (this.bodyEnded || this.done) return;
    this.bodyEnded = true;
    // less DATA than content-length: the upstream must not wait for bytes that never come
    if (this.request.contentLength > 0 && this.bodyBytes !== this.request.contentLength) return this.refuse(400);
    if (this.dohChunks !== null) return this.dohRefusal === 0 ? this.dohBody() : this.dohRefuse(this.dohRefusal);
    if (this.filtersPending) return;
    if (this.prefixWanted > 0) return this.checkBodyPrefix();
    if (this.buffering) return this.reqBody!.complete();
    if (this.headSent && this.upstream !== null) {
      this.endBody();
      this.arm(this.responseTimeout());
    }
  }

  drain(): void {
    if (this.upstream?.socket.isPaused()) this.upstream.socket.resume();
    this.staticFiles?.resume();
  }

  abort(): void {
    if (this.done) return;
    this.staticFiles?.abort();
    this.finishWith(null, 'cancelled');
  }

  /** A `dns` route (DNS over HTTPS, RFC 8484; doh.ts): the query from a GET's ?dns= or a POST's body. */
  private dohStart(): void {
    const req = this.request;
    if (this.listener.dns === undefined) return this.local(503, [], '503 service unavailable\n');
    if (this.rt.trusted.contains(req.peerAddress)) this.clientAddress = clientFromChain(joinedValues(req.headers, 'x-forwarded-for'), req.peerAddress, this.rt.trusted);
    if (req.method === 'GET') {
      const message = dohGetMessage(this.target);
      if (typeof message === 'number') return this.local(message, [], `${message} ${reasonPhrase(message).toLowerCase()}\n`);
      return this.dohAsk(message);
    }
    const status = req.method !== 'POST' ? 405 : dohPostStatus(this.header('content-type'), req.contentLength) || (this.bodyEnded ? 400 : 0);
    // a refusal of a request whose (small) body is still coming waits for its end: answered before it,
    // the stream is reset under the client's upload (RST_STREAM NO_ERROR, RFC 9113 8.1), which some
    // clients report as an error instead of the status
    if (status !== 0 && status !== 413 && !this.bodyEnded) this.dohRefusal = status;
    else if (status !== 0) return this.dohRefuse(status);
    this.dohChunks = [];
    this.bodyDeadline = this.tStart + this.rt.bodyTotalTimeout;
    this.armBody();
  }

  private dohRefuse(status: number): void {
    this.dohChunks = null;
    this.local(status, status === 405 ? DOH_ALLOW : [], `${status} ${reasonPhrase(status).toLowerCase()}\n`);
  }

  private dohBody(): void {
    const body = Buffer.concat(this.dohChunks!);
    this.dohChunks = null;
    if (dohBodyStatus(body.length) !== 0) return this.local(400, [], '400 bad request\n');
    this.dohAsk(body);
  }

  private dohAsk(message: Buffer): void {
    const outcome = this.listener.dns!.answer(message, this.clientAddress);
    if (!(outcome instanceof Promise)) return this.dohAnswer(outcome);
    this.dohWaiting = true;
    this.arm(this.rt.responseTimeout);
    outcome.then(
      (answer) => this.dohAnswer(answer),
      () => this.dohAnswer('drop'),
    );
  }

  private dohAnswer(answer: Buffer | 'drop'): void {
    if (this.done) return;
    this.dohWaiting = false;
    // 'drop': DNS answers nothing to it (a response, or not a DNS message): the request was bad
    if (answer === 'drop') return this.local(400, [], '400 bad request\n');
    this.status = 200;
    this.downstream.sendHead(200, dohAnswerFields(answer, this.rt.date.value()));
    this.downstream.sendData(answer);
    this.bytesOut += answer.length;
    this.resStarted = true;
    this.finishWith(null, 'success');
  }

  /** A `static` route: the file streams to the codec; the exchange ends when the file does. */
  private serveStatic(action: StaticAction): void {
    const target = upstreamTarget(action, this.target, this.path);
    const q = target.indexOf('?');
    this.staticFiles = new StaticBridge(this.rt.staticFor(action), { method: this.request.method, path: q < 0 ? target : target.slice(0, q), header: (name) => this.header(name) }, this.downstream, {
      started: (status) => {
        this.status = status;
        this.resStarted = true;
      },
      sent: (bytes) => {
        this.bytesOut += bytes;
      },
      finished: (ok) => this.finishWith(null, ok ? 'success' : 'reset'),
    });
  }

  upstreamDrain(): void {
    this.downstream.resumeBody();
  }

  upstreamData(buf: Buffer, s: number, e: number): void {
    if (this.done) return;
    // one clock reading per read: the first byte's time, the head's and the next deadline
    const now = this.listener.now();
    if (this.tFirstByte === 0) this.tFirstByte = now;
    if (this.resStarted) return this.body(buf, s, e, now);
    // most responses: a final head at the start of a read (reads start at 0), parsed where it lies, without
    // views of the read buffer; the rest (a head in parts, 1xx first) goes the general way below
    if (this.resAcc === null && s === 0) {
      const end = findHeadEnd(buf, 0, 0, e);
      const res = this.listener.resHead;
      if (end > 0 && parseResponseHead(buf, end, res, this.request.method === 'HEAD', this.rt.hidden) && res.status >= 200) {
        if (this.attempts.retriesOn(res.status) && this.retryFailed(res.status, 'http_5xx')) return;
        this.startResponse(res, now);
        if (end < e) this.body(buf, end, e, now);
        return;
      }
    }
    let data = buf.subarray(s, e);
    if (this.resAcc !== null) data = Buffer.concat([this.resAcc, data]);
    while (data.length > 0 && !this.resStarted) {
      const end = findHeadEnd(data, 0, 0, data.length);
      if (end === -1) {
        if (data.length > 64 * 1024) return this.fail(502, 'bad_response');
        this.resAcc = Buffer.from(data);
        return;
      }
      this.resAcc = null;
      // parsed and consumed within this call (startResponse copies what it keeps), so the head is read in
      // place — in the shared read buffer — and the listener's ResponseHead is free again on return
      const raw = data.subarray(0, Math.max(end, 0));
      const res = this.listener.resHead;
      if (end < 0 || !parseResponseHead(raw, raw.length, res, this.request.method === 'HEAD', this.rt.hidden)) return this.fail(502, 'bad_response');
      data = data.subarray(end);
      if (res.status < 200) continue; // 1xx: HTTP/2 codecs answer 100-continue themselves
      // a status listed in retries.on is discarded unread and the request tried on another backend, as on
      // every other pair (the connection, with the rest of that answer, is closed)
      if (this.attempts.retriesOn(res.status) && this.retryFailed(res.status, 'http_5xx')) return;
      this.startResponse(res, now);
    }
    if (data.length > 0) this.body(data, 0, data.length, now);
  }

  private startResponse(res: ResponseHead, now: number): void {
    this.resStarted = true;
    this.status = res.status;
    this.resKeepAlive = res.keepAlive;
    this.resKind = res.bodyKind;
    this.resRemaining = res.contentLength;
    if (this.resKind === BODY_CHUNKED) this.decoder = new ChunkedDecoder();
    // room for every field (those dropped leave it unused): one allocation, not a push-grown array
    const headers: string[] = new Array<string>(res.headerCount * 2);
    let n = 0;
    const detail = this.listener.wantsDetail(res.status, now - this.tStart, now);
    this.detail = detail ? 1 : 2;
    for (let i = 0; i < res.headerCount; i++) {
      if ((RESPONSE_DROP & (1 << res.kinds[i])) !== 0) continue;
      const o = i * 4;
      const common = commonName(res.raw, res.offsets[o], res.offsets[o + 1]);
      const name = common >= 0 ? COMMON_NAMES[common] : res.raw.toString('latin1', res.offsets[o], res.offsets[o + 1]).toLowerCase();
      if (res.connectionTokens?.includes(name)) continue;
      const value = common >= 0 ? commonValue(common, res.raw, res.offsets[o + 2], res.offsets[o + 3]) : res.raw.toString('latin1', res.offsets[o + 2], res.offsets[o + 3]);
      if (detail && name === 'server-timing') this.upstreamTiming = this.upstreamTiming === '' ? value : `${this.upstreamTiming}, ${value}`;
      headers[n++] = name;
      headers[n++] = value;
    }
    headers.length = n;
    // the built-ins' response hooks (the edge's Server-Timing) run in the response filters' wrapper
    if (this.filtered === null && this.rt.builtins.editsResponseFor(this)) this.filterResponses(this.filters);
    this.out.sendHead(res.status, headers);
    this.arm(this.rt.idleTimeout, now);
    if (this.resKind === BODY_NONE) this.finishWith(null, 'success', true, now);
  }

  /** The response goes through the built-ins' and the route's response filters (`filters` null: the built-ins only). */
  private filterResponses(filters: FilterChain | null): void {
    this.out = this.filtered = new FilteredDownstream(this.downstream, filters, this, {
      method: this.request.method,
      date: () => this.rt.date.value(),
      backend: () => this.attempts.lease?.backend.id ?? '',
      replaced: (status) => {
        this.status = status;
      },
      resume: () => this.drain(),
      builtins: this.rt.builtins,
    });
  }

  // EdgeRequest, for the built-in filters
  get edge(): EdgeRequest {
    return this;
  }
  get peerAddress(): string {
    return this.request.peerAddress;
  }
  get peerTrusted(): boolean {
    return this.rt.trusted.contains(this.request.peerAddress);
  }
  get localPort(): number {
    return this.request.localPort ?? 0;
  }
  joinedHeader(name: string): string {
    return joinedValues(this.request.headers, name);
  }
  get sentRequestId(): string | undefined {
    return this.rt.requestIdName === '' ? undefined : firstValue(this.request.headers, this.rt.requestIdName);
  }
  get sentTracestate(): boolean {
    return firstValue(this.request.headers, 'tracestate') !== undefined;
  }
  get traceId(): string {
    return this.trace?.traceId ?? '';
  }
  get spanId(): string {
    return this.trace?.spanId ?? '';
  }
  get traceFlags(): string {
    return this.trace?.flags ?? '';
  }
  get traceContinued(): boolean {
    return this.trace?.continued === true;
  }
  get debugTrace(): boolean {
    return this.trace?.debug === true;
  }

  edgeTiming(): string {
    return edgeServerTiming({
      tStart: this.tStart,
      tHead: this.tStart,
      tAttempt: this.attempts.tPick,
      tConnected: this.tConnected,
      tFirstByte: this.tFirstByte,
      routeName: this.routeName ?? '',
      pool: this.pool,
      backendId: this.attempts.lease?.backend.id,
      reusedUpstream: this.reused,
      retryReason: this.attempts.reason,
      tried: this.attempts.tried,
      staleRetries: this.attempts.staleResends,
    });
  }

  chunkData(buf: Buffer, s: number, e: number): void {
    this.send(buf, s, e);
  }

  private send(buf: Buffer, s: number, e: number): void {
    if (e <= s) return;
    this.bytesOut += e - s;
    let ok: boolean;
    // the codec's stream copies what it keeps itself (a small body goes into its frame at once)
    if (this.direct !== null && this.out === this.downstream) ok = this.direct.sendBytes(buf, s, e);
    else {
      // copied: buf is the shared read buffer; one Buffer, not a view and then its copy
      const chunk = Buffer.allocUnsafe(e - s);
      buf.copy(chunk, 0, s, e);
      ok = this.out.sendData(chunk);
    }
    if (!ok) this.upstream?.socket.pause();
  }

  private body(buf: Buffer, s: number, e: number, now: number): void {
    if (this.resKind === BODY_LENGTH) {
      const take = Math.min(e - s, this.resRemaining);
      this.resRemaining -= take;
      this.send(buf, s, s + take);
      if (this.resRemaining === 0) this.finishWith(null, 'success', take === e - s, now);
    } else if (this.resKind === BODY_CHUNKED) {
      const end = this.decoder!.decode(buf, s, e, this);
      if (end < 0) return this.finishWith(null, 'bad_response');
      if (this.decoder!.done) this.finishWith(null, 'success', end === e, now);
    } else if (this.resKind === BODY_UNTIL_CLOSE) {
      this.send(buf, s, e);
    }
    if (!this.done) this.arm(this.rt.idleTimeout, now);
  }

  upstreamEnd(): void {
    if (this.done) return;
    if (this.resStarted && this.resKind === BODY_UNTIL_CLOSE) this.finishWith(null, 'success', false);
    else if (this.resStarted) this.finishWith(null, 'reset');
    else if (!this.retryFailed(R_RESET, 'reset')) this.fail(502, 'reset');
  }

  upstreamClosed(_error: Error | undefined, connected: boolean): void {
    this.upstream = null;
    if (this.done) return;
    if (this.resStarted && this.resKind === BODY_UNTIL_CLOSE) return this.finishWith(null, 'success', false);
    if (this.resStarted) return this.finishWith(null, 'reset');
    if (this.retryFailed(connected ? R_RESET : R_CONNECT_ERROR, connected ? 'reset' : 'connect_error')) return;
    this.fail(502, connected ? 'reset' : 'connect_error');
  }

  /**
   * Answers here. `headers` carry the body's content-type when the route configured one (`respond`);
   * the texts the edge writes itself (404, redirects) are plain text.
   */
  private local(status: number, headers: readonly string[], body: string | Buffer): void {
    this.status = status;
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const fields = headers.slice();
    if (firstValue(fields, 'date') === undefined) fields.push('date', this.rt.date.value());
    if (this.reason !== '' && this.traced()) fields.push(REASON_HEADER, reasonValue(this.reason));
    if (this.request.method !== 'HEAD') {
      if (firstValue(fields, 'content-type') === undefined) fields.push('content-type', 'text/plain; charset=utf-8');
      fields.push('content-length', String(bytes.length));
    }
    this.downstream.sendHead(status, fields);
    if (this.request.method !== 'HEAD' && bytes.length > 0) this.downstream.sendData(bytes);
    this.bytesOut += bytes.length;
    this.resStarted = true;
    this.finishWith(null, 'success');
  }

  /** The request carried the admin token in x-switchyard-trace (read here too: a 404 comes before the trace context). */
  private traced(): boolean {
    if (this.trace !== null) return this.trace.debug;
    const token = requestField(this.request.headers, 'x-switchyard-trace');
    return token !== undefined && tokenMatches(token, this.listener.traceToken);
  }

  /** The codec's error answer (fail()) with the reason header added, for a traced request. */
  private failTraced(error: EdgeError): void {
    const body = Buffer.from(`${error.message}\n`, 'utf8');
    this.out.sendHead(error.status, ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length), REASON_HEADER, reasonValue(this.reason)]);
    if (this.request.method !== 'HEAD') this.out.sendData(body);
    this.out.end();
  }

  /** A request filter's answer: the fields every downstream gets for it (filters/local.ts). */
  private answer(answer: LocalResponse): void {
    if (this.reason === '') this.reason = 'filter';
    this.sendLocal(answer);
    this.finishWith(null, 'success');
  }

  /** A filter's answer on the stream (head and body; finishWith ends it). */
  private sendLocal(answer: LocalResponse): void {
    this.status = answer.status;
    const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
    const fields = localResponseFields(answer, this.rt.date.value(), body.length);
    if (this.traced()) fields.push(REASON_HEADER, reasonValue(this.reason));
    this.downstream.sendHead(answer.status, fields);
    if (this.request.method !== 'HEAD' && body.length > 0) {
      this.bytesOut += body.length;
      this.downstream.sendData(body);
    }
    this.resStarted = true;
  }

  private fail(status: number, outcome: LeaseOutcome): void {
    if (this.done) return;
    // no upstream response came: a filter may answer instead (a cache's stale copy); the lease still ends
    // with the failure's outcome, so passive health counts it
    const filters = this.filters;
    if (filters !== null && filters.handlesFailure && !this.resStarted && status >= 502 && status <= 504 && this.pool !== null) {
      const answer = filters.onUpstreamFailure(this, status);
      if (answer !== undefined) {
        if (this.reason === '') this.reason = failureReason(status, outcome);
        const upstream = this.upstream;
        this.upstream = null;
        upstream?.destroy();
        this.sendLocal(answer);
        this.answeredAfterFailure = true;
        return this.finishWith(null, outcome);
      }
    }
    this.status = status;
    const error = new EdgeError(status === 504 ? 'SY_ERR_UPSTREAM_TIMEOUT' : status === 503 ? 'SY_ERR_NO_BACKEND' : 'SY_ERR_UPSTREAM', `l7 ${this.rt.name}: ${reasonPhrase(status).toLowerCase()}`, {
      source: 'upstream',
      status,
      retry: outcome === 'connect_error' ? 'retryable' : 'final',
    });
    this.finishWith(error, outcome);
  }

  /** `now`: a clock reading taken in this same turn, when the caller has one. */
  private finishWith(error: EdgeError | null, outcome: LeaseOutcome, reusable = true, now = this.listener.now()): void {
    if (this.done) return;
    this.done = true;
    this.deadline = 0;
    if (this.watched) this.listener.unwatchDeadline(this);
    if (this.queuedAt !== '') {
      this.listener.connector.cancelWait(this.queuedAt, this);
      this.queuedAt = '';
    }
    const upstream = this.upstream;
    this.upstream = null;
    if (upstream !== null) {
      const ok = reusable && outcome === 'success' && this.bodyEnded && this.resKeepAlive && this.resStarted && (this.reqBody === null || !this.reqBody.sending);
      this.listener.connector.release(upstream, ok, now);
    }
    this.reqBody?.dispose();
    this.attempts.end(outcome, this.status);
    if (outcome === 'cancelled' && error === null && this.status === 0) this.status = 499;
    if (this.reason === '' && (error !== null || outcome !== 'success')) this.reason = failureReason(this.status, outcome);
    // logged before the codec hears of the end, as the HTTP/1.1 path logs in the turn it answers; a body
    // transform still at work (compression) is waited for: its tail is part of the request
    if (this.rt.accessLog) {
      if (this.filtered !== null) this.filtered.afterBody(() => this.logAccess(this.listener.now()));
      else this.logAccess(now);
    }
    if (error !== null) {
      if (!this.resStarted && this.reason !== '' && this.traced() && !(this.header('content-type') ?? '').startsWith('application/grpc')) this.failTraced(error);
      else this.out.fail(error);
    } else if (outcome === 'success' || this.answeredAfterFailure) this.out.end();
    else this.out.fail(new EdgeError('SY_ERR_UPSTREAM', `l7 ${this.rt.name}: upstream ${outcome}`, { source: 'upstream', status: 502 }));
    this.listener.requestDone(this.routeName ?? '', this.pool?.name ?? '', this.status, now - this.tStart);
  }

  /** Fills the listener's access record (the HTTP/1.1 path's line, with "protocol":"h2" or "h3") and writes it. */
  private logAccess(now: number): void {
    const listener = this.listener;
    const rec = listener.accessBatch.record;
    rec.requestId = this.requestId;
    rec.client = this.clientAddress;
    rec.method = this.request.method;
    rec.host = this.request.authority;
    rec.path = this.path;
    rec.status = this.status;
    rec.bytesIn = this.bytesIn;
    // what the client got: a transform or a replacing answer changed the body's size
    rec.bytesOut = this.filtered === null ? this.bytesOut : this.bytesOut + this.filtered.bodyDelta;
    rec.route = this.routeName ?? '';
    rec.pool = this.pool?.name ?? '';
    const attempts = this.attempts;
    rec.backend = attempts.backend;
    rec.protocol = this.request.protocol ?? 'h2';
    rec.headers = this;
    rec.traceId = this.trace?.traceId ?? '';
    rec.spanId = this.trace?.spanId ?? '';
    rec.parentSpanId = this.trace?.parentId ?? '';
    rec.traceFlags = this.trace?.flags ?? '01';
    rec.reason = this.reason;
    rec.attempts = attempts.tries;
    rec.tried = attempts.tried;
    rec.tStart = this.tStart;
    rec.tArrived = 0;
    rec.tHead = 0;
    rec.tAttempt = attempts.tPick;
    rec.tConnected = this.tConnected;
    rec.tFirstByte = this.tFirstByte;
    rec.upstreamTiming = this.upstreamTiming;
    rec.detail = this.detail;
    rec.tAccepted = this.request.tAccepted ?? 0;
    rec.tTls = this.request.tTls ?? 0;
    rec.filterNames = this.filters !== null && this.filterTimes !== null ? this.filters.names : null;
    rec.filterTimes = rec.filterNames !== null ? this.filterTimes : null;
    rec.earlier = attempts.earlier;
    rec.pickPool = attempts.pickSeq !== 0 ? this.pool : null;
    rec.pickSeq = attempts.pickSeq;
    listener.writeAccess(rec, now);
  }
}
