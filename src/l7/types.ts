// Public contract of the L7 component: the listener and the codec-independent exchange used by src/h2.
import type { ConnectionGateStatus } from '../listener/index.ts';
import type { Component, HasStatus, Clock, Logger, EdgeError } from '../core/index.ts';
import type { BalanceInput, Lease, PickSnapshot } from '../pool/index.ts';
import type { ListenerConfig, PoolConfig } from '../config/index.ts';
import type { Socket } from 'node:net';
import type { RetryBudget, RetryPolicy } from './retry-policy.ts';
import type { Attempts } from './attempts.ts';
import type { AccessRecord } from './access-log.ts';
import type { BridgeTrace } from './bridge-head.ts';
import type { BuiltinFilters, FilterEnv, FilterHost, FilterRegistry } from './filters/index.ts';
import type { UpstreamTlsClient } from '../tls/index.ts';

/**
 * What L7 needs from a pool (the structural subset of src/pool's Pool). `tried` holds the ids of the
 * backends already attempted for this request, so a failed connect can re-enter "pick upstream".
 * `pick` returns undefined when no backend is usable (the request gets 503).
 */
export interface UpstreamPool {
  readonly name: string;
  /** src/pool's Pool exposes its config: keepalive and max_connections are read from it. */
  readonly poolConfig?: PoolConfig;
  pick(input: BalanceInput, tried?: ReadonlySet<string>): Lease | undefined;
  /**
   * src/pool's Pool records what each pick considered: the sequence number of the last pick (read right
   * after pick(), kept as AccessRecord.pickSeq) and a copy of it by that number, for the waterfall's pick
   * row and the pick span. Absent: candidates are not recorded.
   */
  readonly lastPick?: number;
  copyPick?(seq: number, into: PickSnapshot): boolean;
}

/** The pools by name, as L7 reads them (a Map or src/pool's PoolRegistry both fit). */
export interface UpstreamPools {
  get(name: string): UpstreamPool | undefined;
}

/** DNS over HTTPS (`dns: {}` routes): the DNS engine of this process (src/supervisor's DNS plane). */
export interface DnsAnswerer {
  /** Answers one DNS message; 'drop' when DNS answers nothing to it (a response, too short, or no `dns:`). */
  answer(message: Buffer, clientAddress: string): Buffer | 'drop' | Promise<Buffer | 'drop'>;
}

/** Pending ACME http-01 challenges of this process (src/acme): token → key authorization (RFC 8555 8.3). */
export interface HttpChallengeSource {
  /** Number of pending tokens; 0 keeps the check off the request path. */
  readonly size: number;
  keyAuthorization(token: string): string | undefined;
}

export interface HttpListenerDeps {
  pools: UpstreamPools;
  /** ACME http-01: answered before routing at /.well-known/acme-challenge/<token> while one is pending. */
  acmeHttp?: HttpChallengeSource;
  /** The engine `dns: {}` routes ask; without it they answer 503. */
  dns?: DnsAnswerer;
  /** One JSON line per request goes here (the lead picks the destination). */
  accessLog: Logger;
  /** Lifecycle and error lines only; nothing on the hot path. */
  logger: Logger;
  clock?: Clock;
  /** Keep-alive settings per pool name; when absent they come from pool.poolConfig, else defaults. */
  upstreamSettings?: ReadonlyMap<string, UpstreamSettings>;
  /**
   * (src/h2, https listeners) Sockets are accepted elsewhere and handed over with acceptConnection();
   * start() then binds nothing and only starts the timers.
   */
  external?: boolean;
  /** Directory that relative paths in the listener config (static roots) are resolved against; default cwd. */
  baseDir?: string;
  /** The config's data_dir (absolute): spilled request bodies go under it (request_buffering); default os.tmpdir(). */
  dataDir?: string;
  /**
   * The admin token: a request carrying `x-switchyard-trace: <token>` gets the edge's phases in
   * Server-Timing and a traceresponse header. Absent: the header is only stripped, never honoured.
   */
  traceToken?: string;
  /**
   * Called once per finished request (HTTP/1.1 and exchanges from other codecs). The record object is
   * reused: read it during the call, do not keep it. Strings are the runtime's own (no allocation).
   */
  onRequestDone?(record: RequestDoneRecord): void;
  /** Sees every access record the listener writes (telemetry spans); called only while `active`. */
  spans?: AccessRecordSink;
  /**
   * Where `middleware:` filters are built from and keep their per-process state: one per process (the
   * traffic plane's), shared by its listeners; default a new host over the built-in filters.
   */
  filters?: FilterHost;
  /**
   * (src/h2) Upstream for HTTP/1.1 requests whose route targets a pool speaking HTTP/2 (`protocol: h2c | h2 |
   * grpc`): the request goes there instead of the HTTP/1.1 upstream path. `request.path` is the upstream
   * target (after strip_prefix / rewrite) and `request.headers` already carry the forwarded headers and the
   * traceparent; the implementation picks the backend (`target.balance`), retries what may be retried, and
   * answers through `downstream` (its pauseBody/resumeBody pause the client's socket). Returns undefined
   * when it does not serve that pool: the request then takes the HTTP/1.1 path. The L7 core enforces the
   * listener's body, response and idle timeouts, and calls handle.abort() when it gives up.
   */
  foreignUpstream?(pool: UpstreamPool, request: ExchangeRequest, downstream: ExchangeDownstream, target: ForeignTarget): ExchangeHandle | undefined;
}

/**
 * One upstream try that failed before the last one (a retry followed), for the dashboard's waterfall:
 * monotonic ms on the listener's clock, 0 where the phase did not happen.
 */
export interface EarlierAttempt {
  backend: string;
  /** When the backend was picked, its connection (HTTP/2: stream) was ready, its response head came, the try ended. */
  tPick: number;
  tConnected: number;
  tFirstByte: number;
  tEnd: number;
  /** Why it failed: connect_error, reset, timeout, the status it answered (retried by `retries.on`), grpc_unavailable, keepalive_race. */
  outcome: string;
}

/** Route details for a foreignUpstream request. */
export interface ForeignTarget {
  /** The route's upstream_host: 'client' sends `request.authority`, 'backend' the picked backend's address. */
  upstreamHost: 'client' | 'backend';
  /** The request as balancers see it (client address after trusted proxies, path, headers, cookies). */
  balance: BalanceInput;
  /** The pool's compiled `retries:` and this listener's retry budget for it, read on the listener's clock. */
  retry: RetryPolicy;
  budget: RetryBudget;
  clock: { now(): number };
  /**
   * When the request began (on `clock`) and the recent-requests ring's question at the final response
   * head (HttpListener.wantsDetail): when it keeps the request, the handle records the upstream's
   * Server-Timing (ExchangeHandle.serverTiming). Absent: never recorded.
   */
  tStart?: number;
  detail?: { wantsDetail(status: number, elapsed: number, now: number): boolean };
}

/** What onRequestDone sees: route and pool are '' when the request had none. */
export interface RequestDoneRecord {
  listener: string;
  route: string;
  pool: string;
  status: number;
  /** From the request's first byte (accept for the first request of a connection) to the response's end. */
  durationSeconds: number;
}

export interface UpstreamSettings {
  /** Idle keep-alive sockets kept per backend. */
  maxIdle: number;
  /** Ms an idle upstream socket is kept. */
  idleTimeout: number;
  /** Open sockets allowed per backend; above it the request waits in the queue below. */
  maxConnections: number;
  /** Requests that may wait per backend for a connection at maxConnections; beyond it they get 503. */
  queueSize: number;
  /** Ms a request waits in that queue before it gets 503. */
  queueTimeout: number;
  /**
   * Connect attempts per request: 1 + retries.attempts when the pool retries on connect_error (nothing was
   * sent, so another backend can always be tried), else 1. Default 1.
   */
  connectAttempts?: number;
  /** The pool's compiled `retries:` (retry-policy.ts); absent: no retries. */
  retry?: RetryPolicy;
  /** An HTTP/1.1 pool's `tls:`: connections are TLS (the runtime that holds these settings loads its CA). */
  tls?: UpstreamTlsClient;
}

export interface HttpListenerStatus {
  name: string;
  address: { host: string; port: number } | undefined;
  connections: number;
  inflight: number;
  /** Requests finished (answered or given up), whichever path served them. */
  requests: number;
  /** The connection filters' counters (src/listener); absent when another component accepts (src/h2). */
  filter?: ConnectionGateStatus;
  /** Per pool: requests retried on another backend, and retries the retry budget refused. */
  retries: Record<string, { retries: number; budget_exhausted: number }>;
}

export interface HttpListener extends Component, HasStatus<HttpListenerStatus> {
  /** The bound address (after start(); resolves port 0). */
  address(): { host: string; port: number };
  /** The registry and env that routes of this listener build their filters with (the HTTP/2 dispatch's router too). */
  filterSetup(): { registry: FilterRegistry; env: FilterEnv };
  /** A request filter failed (threw, or its promise rejected): logged with the route; the request gets a 500. */
  filterFailed(route: string, err: unknown): void;
  /** Reload: new connections and requests use the new routes and pools; in-flight ones keep theirs. */
  updateConfig(listener: ListenerConfig, pools: UpstreamPools, upstreamSettings?: ReadonlyMap<string, UpstreamSettings>): void;
  /**
   * Proxies one request parsed by another codec (HTTP/2) through this listener's router and the
   * HTTP/1.1 upstream path. See ExchangeDownstream for the contract.
   */
  handleExchange(request: ExchangeRequest, downstream: ExchangeDownstream): ExchangeHandle;
  /** Monotonic milliseconds on the listener's clock (what retry budgets count with). */
  now(): number;
  /**
   * At an upstream's final response head: whether the recent-requests ring keeps the request in detail (the
   * caller then records the upstream's Server-Timing). `elapsed`: ms since the request began.
   */
  wantsDetail(status: number, elapsed: number, now: number): boolean;
  /** The retry budget of `pool` on this listener, shared by every protocol pair that sends to it. */
  retryBudget(pool: string): RetryBudget;
  /** A new request id (`<16 hex>-<counter>`), for a request whose client sent none. */
  nextRequestId(): string;
  /** The built-in filters of the listener's current config (src/h2 runs them on its streams to HTTP/2 pools). */
  builtinFilters(): BuiltinFilters;
  /** The trace of a request with these flat headers: the client's valid traceparent continued, else a new one. */
  startTrace(headers: readonly string[]): BridgeTrace;
  /**
   * Writes one access-log line for a request another component proxied (src/h2 to HTTP/2 pools), with the
   * listener's one schema and writer; `record` is the caller's (reused), `now` when the request ended.
   */
  writeAccess(record: AccessRecord, now: number): void;
  /**
   * Counts one finished request another component proxied (src/h2 to HTTP/2 pools) as the listener's own
   * are counted: the listener's request count, and the plane's per-route and per-pool metrics. `ms`: its duration.
   */
  requestDone(route: string, pool: string, status: number, ms: number): void;
  /** (src/h2) Serves HTTP/1.1 on a socket accepted elsewhere: an https listener's TLS socket after ALPN chose http/1.1. */
  acceptConnection(socket: Socket, times?: ConnectionTimes): void;
}

/** A TLS connection's accept and handshake end (monotonic ms, the listener's clock): its first request's waterfall shows them. */
export interface ConnectionTimes {
  tAccepted: number;
  tTls: number;
}

/** A request already parsed by another codec (h2). Header names lower-case, no pseudo-headers. */
export interface ExchangeRequest {
  method: string;
  /** :authority (or Host), may carry a port. */
  authority: string;
  /** Origin-form target: path and query. */
  path: string;
  scheme: 'http' | 'https';
  /** Flat list: name0, value0, name1, value1, … (lower-case names). */
  headers: readonly string[];
  /** The TCP peer address (before trusted-proxy processing). */
  peerAddress: string;
  /** Body length when known (content-length), -1 when unknown (streamed), 0 when there is no body. */
  contentLength: number;
  /**
   * The first stream of a TLS connection: when the connection was accepted and its handshake ended
   * (ConnectionTimes, for the waterfall); absent or 0 otherwise.
   */
  tAccepted?: number;
  tTls?: number;
  /** The client's protocol, for the access log; absent: h2 (the HTTP/2 codec and node:http2). */
  protocol?: 'h2' | 'h3';
  /** The listener's port the request arrived on (x-forwarded-port); set by the HTTP/2 dispatch. */
  localPort?: number;
}

/**
 * The response side, implemented by the calling codec. Called by L7 in this order: at most one
 * sendHead (1xx heads are not relayed), sendData* (return false to apply backpressure: L7 pauses the
 * upstream until the codec calls handle.drain()), then exactly one of end(trailers?) or fail(error).
 * fail() after sendHead means the stream must be reset; before it, answer error.status.
 */
export interface ExchangeDownstream {
  sendHead(status: number, headers: string[]): void;
  sendData(chunk: Buffer): boolean;
  end(trailers?: string[]): void;
  fail(error: EdgeError): void;
  /** L7 asks the codec to stop / restart delivering request body (upstream backpressure). */
  pauseBody(): void;
  resumeBody(): void;
}

/** What the codec feeds back into L7 for one exchange. */
export interface ExchangeHandle {
  /** A request body chunk (L7 copies what it keeps; the codec may reuse the buffer after return). */
  bodyData(chunk: Buffer): void;
  bodyEnd(): void;
  /** The downstream can take more data after sendData returned false. */
  drain(): void;
  /**
   * The client went away, or the edge gave up: release the upstream, no further calls to the downstream.
   * `timedOut`: the upstream missed the edge's response deadline (its lease ends as a timeout, which feeds
   * passive ejection; otherwise as cancelled).
   */
  abort(timedOut?: boolean): void;
  /**
   * (foreignUpstream handles) What the upstream side tried, for the access line: the last backend ('' when
   * none), the tries, the attempt core's record of them (backend, tries, tried, pick time and number,
   * earlier tries: the same record the HTTP/1.1 paths fill) and when the last try's connection was ready
   * (the target's clock; 0 before).
   */
  readonly backend?: string;
  readonly tries?: number;
  readonly attempts?: Attempts;
  readonly connectedAt?: number;
  /** The ring's verdict and the upstream's Server-Timing. */
  readonly detailVerdict?: number;
  readonly serverTiming?: string;
}

/**
 * Takes finished requests' access records (src/telemetry). `push` runs on the request path: it copies
 * what it needs out of the reused record at once and must not allocate or do I/O. `active` false: the
 * listener does not call it (no cost when telemetry is off).
 */
export interface AccessRecordSink {
  readonly active: boolean;
  push(record: AccessRecord, now: number): void;
  /**
   * Asked once per proxied request when the upstream's final response head arrives (`elapsed`: ms since
   * the request arrived): whether the request will be kept in detail, so the caller records the upstream's
   * Server-Timing value (AccessRecord.upstreamTiming). Absent: never.
   */
  detail?(status: number, elapsed: number, now: number): boolean;
  /**
   * Asked at a request's end, before its record is filled, by a path whose access line is not written
   * (the log is off): whether the sink would read the record. Returns the detail verdict the record is to
   * carry (1 when the sample was taken just now), or -1: nothing would read it, the record is not filled.
   * `reason`: the record's reason ('' for an ordinary answer). Absent: the record is always filled.
   */
  wants?(status: number, reason: string, tStart: number, detail: number, now: number): number;
}
