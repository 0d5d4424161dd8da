// The HTTP/1.1 listener: accepts on a raw net server (SO_REUSEPORT so worker processes can share the
// address), reads each connection through `onread` into one shared buffer, and sweeps deadlines from a
// single timer instead of one timer per connection or request.
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { EdgeError, messageOf, systemClock, type Clock, type Logger, type TimerHandle } from '../core/index.ts';
import type { ListenerConfig } from '../config/index.ts';
import type { AccessRecordSink, ConnectionTimes, HttpListener, HttpListenerDeps, HttpListenerStatus, RequestDoneRecord, UpstreamPools, UpstreamSettings, ExchangeRequest, ExchangeDownstream, ExchangeHandle } from './types.ts';
import { ListenerRuntime } from './runtime.ts';
import { HttpConnection } from './connection.ts';
import { UpstreamConnector } from './upstream/connector.ts';
import { bridgeExchange } from './bridge.ts';
import { ChunkPool } from './chunk-writer.ts';
import { AccessLogBatch, writeAccessLog, type AccessRecord } from './access-log.ts';
import { bridgeTrace, type BridgeTrace } from './bridge-head.ts';
import { ResponseHead } from './parse/response-head.ts';
import { RetryBudget } from './retry-policy.ts';
import { TraceIds } from './trace-context.ts';
import { SpillArea } from './request-buffer.ts';
import { refusedReason } from './reasons.ts';
import { builtinFilterHost, LineWriter, type BuiltinFilters, type FilterEnv, type FilterHost, type FilterRegistry } from './filters/index.ts';
import os from 'node:os';
import { ConnectionGate, REFUSE, READ_PROXY_HEADER } from '../listener/index.ts';

/** Size of the shared read buffer: one per listener, reused by every read of every connection. */
const READ_BUFFER_SIZE = 64 * 1024;

interface NativeHandle {
  onconnection?: (err: number, clientHandle: unknown) => void;
  getpeername?: (out: { address?: string; port?: number }) => number;
  setNoDelay?: (enable: boolean) => void;
  close?: () => void;
}

/** Something the sweep times out: `deadline` is on the listener's now() scale, 0 for none. */
export interface DeadlineWatched {
  readonly deadline: number;
  timedOut(): void;
}

export class HttpListenerImpl implements HttpListener {
  runtime: ListenerRuntime;
  readonly connector: UpstreamConnector;
  readonly accessLog: Logger;
  private readonly logger: Logger;
  readonly clock: Clock;
  private readonly config: ListenerConfig;
  /** Sockets come from acceptConnection() (src/h2 https listeners); start() binds nothing. */
  private readonly external: boolean;
  /** deps.filters: what each runtime's routes build their middleware from (a reload too). */
  readonly filters: FilterHost;
  private readonly baseDir: string;
  private readonly dataDir: string;
  private readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  readonly chunks = new ChunkPool();
  readonly accessBatch = new AccessLogBatch();
  /** Response heads are parsed and rewritten within one upstream read, so one per listener suffices. */
  readonly resHead = new ResponseHead();
  /** The one writer the HTTP/1.1 heads are edited through by the filters (built-ins and the route's), reset per head. */
  readonly lineWriter = new LineWriter('');
  private server: net.Server | null = null;
  private readonly connections = new Set<HttpConnection>();
  /** Exchanges of other codecs (bridge.ts) with a deadline: the sweep times them out like connections. */
  private readonly deadlines = new Set<DeadlineWatched>();
  private timer: TimerHandle | null = null;
  private drainWaiter: (() => void) | null = null;
  private stopped = false;
  inflight = 0;
  rejected = 0;
  readonly traceIds = new TraceIds();
  /** deps.onRequestDone and the one record it is handed (reused: no allocation per request). */
  private readonly onRequestDone: ((record: RequestDoneRecord) => void) | undefined;
  private readonly doneRecord: RequestDoneRecord = { listener: '', route: '', pool: '', status: 0, durationSeconds: 0 };
  /** The admin token that x-switchyard-trace must carry (undefined: never honoured). */
  readonly traceToken: string | undefined;
  /** deps.spans: telemetry's view of the access records. */
  private readonly spans: AccessRecordSink | undefined;
  /** deps.foreignUpstream: HTTP/1.1 requests routed to HTTP/2 pools (foreign-relay.ts). */
  readonly foreignUpstream: HttpListenerDeps['foreignUpstream'];
  /** deps.dns: the DNS engine `dns` routes (DNS over HTTPS) ask. */
  readonly dns: HttpListenerDeps['dns'];
  /** deps.acmeHttp: pending ACME http-01 tokens, answered before routing (acme-answer.ts). */
  readonly acmeHttp: HttpListenerDeps['acmeHttp'];
  /** Per pool (by name): this listener's retry budget; pools that survive a reload keep theirs. */
  private readonly retryBudgets = new Map<string, RetryBudget>();
  /** Where request bodies larger than request_buffering.memory_max spill, and the budget they share. */
  readonly spill: SpillArea;
  private readonly idPrefix = randomBytes(8).toString('hex') + '-';
  private idCounter = 0;
  /** Requests finished (requestDone): the status's `requests`. */
  private finished = 0;
  /** The listener layer's connection filters (src/listener); the https/h2c listener runs its own. */
  private readonly gate: ConnectionGate;

  constructor(config: ListenerConfig, deps: HttpListenerDeps) {
    this.config = config;
    this.filters = deps.filters ?? builtinFilterHost();
    this.baseDir = deps.baseDir ?? process.cwd();
    this.dataDir = deps.dataDir ?? os.tmpdir();
    this.runtime = new ListenerRuntime(config, deps.pools, deps.upstreamSettings, this.baseDir, this.filters, this.dataDir, deps.traceToken !== undefined);
    this.accessLog = deps.accessLog;
    this.logger = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.external = deps.external === true;
    this.traceToken = deps.traceToken;
    this.onRequestDone = deps.onRequestDone;
    this.spans = deps.spans;
    this.foreignUpstream = deps.foreignUpstream;
    this.dns = deps.dns;
    this.acmeHttp = deps.acmeHttp;
    this.spill = new SpillArea(deps.dataDir ?? os.tmpdir(), config.request_buffering.spill_max_total);
    this.gate = new ConnectionGate(config);
    this.connector = new UpstreamConnector(this.readBuffer, this.chunks, (err) => this.internalError(null, err), deps.logger);
  }

  now(): number {
    return this.clock.monotonic();
  }

  /** Reports one finished request to deps.onRequestDone (a no-op without it). `ms`: its duration. */
  requestDone(route: string, pool: string, status: number, ms: number): void {
    this.finished++;
    const hook = this.onRequestDone;
    if (hook === undefined) return;
    const record = this.doneRecord;
    record.listener = this.runtime.name;
    record.route = route;
    record.pool = pool;
    record.status = status;
    record.durationSeconds = ms / 1000;
    try {
      hook(record);
    } catch (err) {
      this.logger.error({ listener: this.config.name, err: messageOf(err) }, 'l7: onRequestDone failed');
    }
  }

  retryBudget(pool: string): RetryBudget {
    let budget = this.retryBudgets.get(pool);
    if (budget === undefined) {
      budget = new RetryBudget();
      this.retryBudgets.set(pool, budget);
    }
    return budget;
  }

  startTrace(headers: readonly string[]): BridgeTrace {
    return bridgeTrace(headers, this.traceIds, this.traceToken);
  }

  /**
   * At an upstream's final response head: whether the recent-requests ring keeps this request in detail
   * (then the caller records the upstream's Server-Timing). `elapsed`: ms since the request arrived.
   */
  wantsDetail(status: number, elapsed: number, now: number): boolean {
    const spans = this.spans;
    return spans !== undefined && spans.active && spans.detail !== undefined && spans.detail(status, elapsed, now);
  }

  /**
   * The one place every finished request's record goes: the access log and the plane's sink (the
   * recent-requests ring and, when on, span export).
   */
  /**
   * At a request's end: -1 when nothing would read its access record (no access line is written, and
   * neither the span exporter nor the requests ring wants it), else the detail verdict it is to carry.
   * With the log off, most requests then fill no record at all.
   */
  recordVerdict(status: number, reason: string, tStart: number, detail: number, now: number): number {
    if (this.accessLog.isLevelEnabled('info')) return detail;
    const spans = this.spans;
    if (spans === undefined || !spans.active) return -1;
    return spans.wants === undefined ? detail : spans.wants(status, reason, tStart, detail, now);
  }

  writeAccess(record: AccessRecord, now: number): void {
    const spans = this.spans;
    if (spans !== undefined && spans.active) spans.push(record, now);
    writeAccessLog(this.accessLog, record, now, this.accessBatch);
  }

  /**
   * The access line of a request refused before it was parsed whole (400, 414, 431, 505…): an operator
   * sees every answer the edge gave, as nginx logs its 400s. What the head said is not trusted, so method,
   * host and path stay empty; the client is the TCP peer.
   */
  logRefused(client: string, status: number, tStart: number, now: number): void {
    if (!this.runtime.accessLog) return;
    const rec = this.accessBatch.record;
    rec.requestId = '';
    rec.client = client;
    rec.method = '';
    rec.host = '';
    rec.path = '';
    rec.status = status;
    rec.bytesIn = 0;
    rec.bytesOut = 0;
    rec.route = '';
    rec.pool = '';
    rec.backend = '';
    rec.protocol = '';
    rec.minor = 1;
    rec.headers = null;
    rec.traceId = '';
    rec.spanId = '';
    rec.parentSpanId = '';
    rec.grpcStatus = '';
    rec.reason = refusedReason(status);
    rec.attempts = 1;
    rec.tried = null;
    rec.tStart = tStart;
    rec.tArrived = 0;
    rec.tHead = 0;
    rec.tAttempt = 0;
    rec.tConnected = 0;
    rec.tFirstByte = 0;
    rec.upstreamTiming = '';
    rec.detail = 0;
    rec.tAccepted = 0;
    rec.tTls = 0;
    rec.filterNames = null;
    rec.filterTimes = null;
    rec.earlier = null;
    rec.pickPool = null;
    rec.pickSeq = 0;
    writeAccessLog(this.accessLog, rec, now, this.accessBatch);
  }

  /**
   * A request id unique across processes and restarts without a random draw per request: a 64-bit
   * random prefix chosen when the listener is built, then a counter.
   */
  builtinFilters(): BuiltinFilters {
    return this.runtime.builtins;
  }

  nextRequestId(): string {
    return this.idPrefix + (this.idCounter++).toString(36);
  }

  async start(): Promise<void> {
    if (this.external) {
      this.scheduleSweep();
      return;
    }
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    this.server = server;
    server.on('connection', (socket) => this.gate.admit(socket, (admitted) => this.acceptSocket(admitted)));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        server.off('listening', onListening);
        reject(new EdgeError('SY_ERR_LISTEN', `listener ${this.config.name}: cannot listen on ${this.config.listen.host}:${this.config.listen.port}: ${err.message}`, { source: 'internal', cause: err }));
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen({ host: this.config.listen.host, port: this.config.listen.port, reusePort: process.platform === 'linux', backlog: 4096 });
    });
    server.on('error', (err) => this.logger.error({ listener: this.config.name, err: err.message }, 'listener error'));
    // Accept on the raw handle so each socket reads via `onread` into the shared buffer (no 'data'
    // events, no per-read Buffer). Falls back to 'connection' events when the handle is not ours.
    const handle = (server as unknown as { _handle: NativeHandle | null })._handle;
    if (handle !== null && typeof handle.onconnection === 'function') {
      handle.onconnection = (err: number, clientHandle: unknown) => this.acceptHandle(err, clientHandle as NativeHandle);
    }
    this.scheduleSweep();
  }

  private acceptHandle(err: number, clientHandle: NativeHandle): void {
    if (err !== 0 && err !== undefined) return;
    // the peer is read off the handle: the connection filters run before a socket is built
    const peer: { address?: string; port?: number } = {};
    clientHandle.getpeername?.(peer);
    const verdict = this.stopped ? REFUSE : this.gate.screen(peer.address ?? '');
    if (verdict === REFUSE) {
      clientHandle.close?.();
      return;
    }
    clientHandle.setNoDelay?.(true);
    if (verdict === READ_PROXY_HEADER) {
      // the header is read through 'data' events; such a connection then stays on them (acceptSocket)
      const socket = new net.Socket({ handle: clientHandle as never, allowHalfOpen: true, readable: true, writable: true } as unknown as net.SocketConstructorOpts);
      socket.once('close', this.gate.release);
      this.gate.readProxyHeader(socket, (admitted) => this.acceptSocket(admitted));
      return;
    }
    const rt = this.runtime;
    let conn: HttpConnection | null = null;
    const socket = new net.Socket({
      handle: clientHandle as never,
      allowHalfOpen: true,
      readable: true,
      writable: true,
      onread: {
        buffer: this.readBuffer,
        callback: (nread: number, buf: Buffer) => {
          try {
            conn!.onRead(nread, buf);
          } catch (err) {
            this.internalError(conn!, err);
          }
        },
      },
    } as unknown as net.SocketConstructorOpts);
    socket.once('close', this.gate.release);
    conn = new HttpConnection(this, rt, peer.address, socket.localPort ?? 0, this.now());
    this.track(conn, socket);
  }

  /** For src/h2 (https, h2c): a socket its own connection filters admitted, its peer the real client. */
  acceptConnection(socket: net.Socket, times?: ConnectionTimes): void {
    this.acceptSocket(socket, times);
  }

  /** `times`: a TLS connection's accept and handshake end (the first request's waterfall shows them). */
  private acceptSocket(socket: net.Socket, times?: ConnectionTimes): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const conn = new HttpConnection(this, this.runtime, socket.remoteAddress, socket.localPort ?? 0, this.now());
    if (times !== undefined) {
      conn.tAccepted = times.tAccepted;
      conn.tTls = times.tTls;
    }
    socket.on('data', (chunk: Buffer) => {
      try {
        conn.onRead(chunk.length, chunk);
      } catch (err) {
        this.internalError(conn, err);
      }
    });
    this.track(conn, socket);
    // a socket whose PROXY header was read comes paused
    socket.resume();
  }

  private track(conn: HttpConnection, socket: net.Socket): void {
    conn.attach(socket);
    this.connections.add(conn);
  }

  /**
   * A bug surfaced while handling a connection: the phase boundary. It is logged (not the hot path: this
   * never happens when things work) and only that connection is dropped; the worker keeps serving.
   */
  internalError(conn: HttpConnection | null, err: unknown): void {
    this.logger.error({ listener: this.config.name, err: messageOf(err), stack: err instanceof Error ? err.stack : undefined }, 'l7: internal error');
    try {
      conn?.destroy();
    } catch {
      // already torn down
    }
  }

  /**
   * A request filter threw or its promise rejected (a bug or an unexpected store failure: filters answer
   * expected failures themselves): the request gets a 500, and the error is logged with the route.
   */
  filterFailed(route: string, err: unknown): void {
    this.logger.error({ listener: this.config.name, route, err: messageOf(err), stack: err instanceof Error ? err.stack : undefined }, 'l7: request filter failed');
  }

  watchDeadline(exchange: DeadlineWatched): void {
    this.deadlines.add(exchange);
  }

  unwatchDeadline(exchange: DeadlineWatched): void {
    this.deadlines.delete(exchange);
  }

  /** Times out what is past its deadline; a bug in one drops that one (its connection), never the sweep. */
  private expire(items: Iterable<DeadlineWatched>, now: number): void {
    for (const item of items) {
      if (item.deadline === 0 || now < item.deadline) continue;
      try {
        item.timedOut();
      } catch (err) {
        this.internalError(item instanceof HttpConnection ? item : null, err);
      }
    }
  }

  forget(conn: HttpConnection): void {
    this.connections.delete(conn);
    if (this.connections.size === 0 && this.drainWaiter !== null) this.drainWaiter();
  }

  private scheduleSweep(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => this.sweep(), this.runtime.sweepInterval());
    this.timer.unref?.();
  }

  private sweep(): void {
    const now = this.now();
    this.expire(this.connections, now);
    this.expire(this.deadlines, now);
    this.connector.sweep(now);
    this.scheduleSweep();
  }

  address(): { host: string; port: number } {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === 'string') {
      throw new EdgeError('SY_ERR_NOT_STARTED', `listener ${this.config.name}: not listening`, { source: 'internal' });
    }
    return { host: address.address, port: address.port };
  }

  status(): HttpListenerStatus {
    let address: { host: string; port: number } | undefined;
    try {
      address = this.address();
    } catch {
      address = undefined;
    }
    return {
      name: this.config.name,
      address,
      connections: this.connections.size,
      inflight: this.inflight,
      requests: this.finished,
      filter: this.external ? undefined : this.gate.status(),
      retries: Object.fromEntries([...this.retryBudgets].map(([pool, budget]) => [pool, { retries: budget.retries, budget_exhausted: budget.exhausted }])),
    };
  }

  /** The registry and env routes of this listener build their filters with (the HTTP/2 dispatch's router too). */
  filterSetup(): { registry: FilterRegistry; env: FilterEnv } {
    return { registry: this.filters.registry, env: this.filters.env(this.baseDir, this.dataDir, this.config.name) };
  }

  updateConfig(listener: ListenerConfig, pools: UpstreamPools, upstreamSettings?: ReadonlyMap<string, UpstreamSettings>): void {
    this.runtime.close();
    this.runtime = new ListenerRuntime(listener, pools, upstreamSettings, this.baseDir, this.filters, this.dataDir, this.traceToken !== undefined);
    this.gate.update(listener);
    this.spill.maxTotal = listener.request_buffering.spill_max_total;
  }

  handleExchange(request: ExchangeRequest, downstream: ExchangeDownstream): ExchangeHandle {
    return bridgeExchange(this, request, downstream);
  }

  async drain(deadline: number): Promise<void> {
    this.server?.close();
    for (const conn of this.connections) conn.startDrain();
    if (this.connections.size === 0) return;
    await new Promise<void>((resolve) => {
      const wait = Math.max(0, deadline - Date.now());
      const timer = this.clock.setTimeout(() => {
        this.drainWaiter = null;
        resolve();
      }, wait);
      this.drainWaiter = () => {
        this.clock.clearTimeout(timer);
        this.drainWaiter = null;
        resolve();
      };
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    for (const conn of [...this.connections]) conn.destroy();
    this.runtime.close();
    this.connector.closeAll();
    this.accessBatch.flush();
    const server = this.server;
    this.server = null;
    if (server !== null && server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
