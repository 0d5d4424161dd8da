// Per stream: route it with the L7 router; streams whose route targets a pool speaking HTTP/2 (h2c, h2,
// grpc) are proxied stream to stream by the HTTP/2 upstream core (codec-exchange.ts; node:http2 streams
// come as exchanges too, exchange-adapter.ts),
// everything else goes through the L7 core's exchange (HTTP/1.1 upstreams, redirects, fixed responses).
// Built per config; a reload builds a new one.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ListenerConfig, PoolConfig } from '../config/index.ts';
import { HttpDate, type Clock, type Logger } from '../core/index.ts';
import { AccessRecord, FILTER_TIMES, Router, TrustedProxies, clientFromChain, joinedValues, soleValue, usableRequestId, requestField, refusedReason, compileRetryPolicy, cookieValue, normalizePath, upstreamTarget, FlatWriter, FilteredDownstream, isPending, localResponseFields, type BuiltinFilters, type FilterChain, type LocalResponse, type RequestVerdict, type RetryPolicy, type ExchangeDownstream, type ExchangeHandle, type ExchangeRequest, type HttpListener, type ProxyAction, type UpstreamPool, type UpstreamPools } from '../l7/index.ts';
import { exchangeStream } from './exchange-adapter.ts';
import type { StreamCloseListener, StreamContext } from './frontend.ts';
import { proxyCodecExchange, type CodecExchangeLog } from './upstream/codec-exchange.ts';
import { isGrpc } from './grpc.ts';
import { H2FilterContext } from './filter-context.ts';
import { DeferredHandle } from './deferred-handle.ts';
import type { H2UpstreamSessions } from './upstream/sessions.ts';

export interface DispatchDeps {
  http: HttpListener;
  pools: UpstreamPools;
  /** Sessions for each pool whose protocol is h2c, h2 or grpc. */
  sessions: (pool: string, config: PoolConfig) => H2UpstreamSessions;
  accessLog: Logger;
  logger: Logger;
  clock: Clock;
  /** Added to every response of the listener (Strict-Transport-Security). */
  responseHeaders: Readonly<Record<string, string>> | undefined;
}

const h2Protocols: ReadonlySet<string> = new Set(['h2c', 'h2', 'grpc']);

/** What the access line says of the request itself. */
interface LoggedRequest {
  requestId: string;
  traceId: string;
  /** The edge's span, the client's span (continued trace, else '') and the flags sent upstream. */
  spanId: string;
  parentSpanId: string;
  traceFlags: string;
  client: string;
  method: string;
  host: string;
  /** The connection's accept and TLS end for its first stream (0 otherwise), and the filters' phase times (null: no filters). */
  tAccepted: number;
  tTls: number;
  filterTimes: Float64Array | null;
  protocol: 'h2' | 'h3';
}

/** A request's route to an HTTP/2 pool, with its path normalised and the target (path + query) to forward. */
interface H2Route {
  pool: UpstreamPool;
  config: PoolConfig;
  action: ProxyAction;
  name: string;
  path: string;
  target: string;
  /** The route's filters (the listener's middleware, then the route's); null when none. */
  filters: FilterChain | null;
}

/** The handle of a stream a request filter answered: there is no upstream to feed. */
const answeredHandle: ExchangeHandle = { bodyData: () => undefined, bodyEnd: () => undefined, drain: () => undefined, abort: () => undefined };

/** A request filter's answer on the stream, with the fields every downstream gets (l7 filters/local.ts). */
function answerLocally(downstream: ExchangeDownstream, answer: LocalResponse, method: string, date: HttpDate): number {
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
  downstream.sendHead(answer.status, localResponseFields(answer, date.value(), body.length));
  if (method !== 'HEAD' && body.length > 0) downstream.sendData(body);
  downstream.end();
  return method === 'HEAD' ? 0 : body.length;
}

const noTries: ReadonlySet<string> = new Set();
/** The log of a request answered before any upstream try (a filter's answer, a refused body length). */
const noUpstream: CodecExchangeLog = { status: 0, grpcStatus: undefined, bytesIn: 0, bytesOut: 0, backend: '', attempts: 0, tried: noTries, tConnected: 0, tFirstByte: 0, tAttempt: 0, earlier: null, pickSeq: 0, detail: 0, serverTiming: '' };

function cookieOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers.cookie;
  const text = Array.isArray(raw) ? raw.join('; ') : raw;
  return text ? cookieValue(text, name) : undefined;
}

export class StreamDispatch {
  private readonly listener: ListenerConfig;
  private readonly deps: DispatchDeps;
  /** null when no route of this listener targets an HTTP/2 pool: every stream goes to the L7 exchange unmatched. */
  private readonly router: Router | null;
  /** forwarded.trusted_proxies: whose X-Forwarded-For is believed. */
  private readonly trusted: TrustedProxies;
  /** The built-in filters (forwarded headers, request id, trace context, hide, HSTS), as on every path. */
  private readonly builtins: BuiltinFilters;
  /** forwarded.request_id, lower-case; '' when off. */
  private readonly requestIdName: string;
  /** The access record of this listener's requests to HTTP/2 pools, reused (written at once). */
  private readonly record = new AccessRecord();
  /** The Date of filter-made answers, formatted once per second (core HttpDate, as every edge-made response). */
  private readonly date: HttpDate;
  /** The built-ins' responseRemoves (response_headers.hide, an upstream's HSTS) and the codec's own fields. */
  private readonly hidden: readonly string[];
  /**
   * The path prefixes (and exact paths) of this listener's routes to HTTP/2 pools, when each such route
   * names one: a request whose path starts with none of them cannot be routed to an HTTP/2 pool and goes
   * to the L7 exchange without being routed twice. null: some route to an HTTP/2 pool matches other paths.
   */
  private readonly h2Paths: readonly string[] | null;
  /** Each pool config's `retries:`, compiled once (a reload brings new config objects). */
  private readonly retryPolicies = new WeakMap<PoolConfig, RetryPolicy>();

  constructor(listener: ListenerConfig, deps: DispatchDeps) {
    this.listener = listener;
    this.deps = deps;
    // the L7 listener's, whose config was updated first (a reload swaps both)
    this.builtins = deps.http.builtinFilters();
    this.requestIdName = listener.forwarded.request_id === false ? '' : listener.forwarded.request_id.toLowerCase();
    this.trusted = new TrustedProxies(listener.forwarded.trusted_proxies);
    // the codec adds the listener's Strict-Transport-Security and Alt-Svc itself (deps.responseHeaders): an upstream's goes
    const removes = this.builtins.responseRemoves;
    const edgeOwned = ['strict-transport-security', 'alt-svc'].filter((name) => deps.responseHeaders?.[name] !== undefined && !removes.includes(name));
    this.hidden = edgeOwned.length > 0 ? [...removes, ...edgeOwned] : removes;
    const routes = listener.routes ?? [];
    const h2Routes = routes.filter((route) => route.pool !== undefined && h2Protocols.has(deps.pools.get(route.pool)?.poolConfig?.protocol ?? 'http1'));
    this.router = h2Routes.length > 0 ? new Router(routes, listener.middleware, deps.http.filterSetup()) : null;
    const paths = h2Routes.map((route) => route.match.path ?? (route.match.path_prefix !== '/' ? route.match.path_prefix : undefined));
    this.h2Paths = paths.every((path) => path !== undefined) ? (paths as string[]) : null;
    this.date = new HttpDate(deps.clock);
  }

  private readonly nextRequestId = (): string => this.deps.http.nextRequestId();

  /**
   * A request of the codec: to an HTTP/2 pool stream to stream when its route says so, otherwise to the
   * L7 exchange (which normalises the path itself and answers 400 for one it refuses).
   */
  readonly exchange = (request: ExchangeRequest, downstream: ExchangeDownstream, encrypted: boolean, localPort: number): ExchangeHandle => {
    if (this.router !== null && this.mayGoToH2(request.path)) {
      const fields = request.headers;
      const header = (name: string) => requestField(fields, name);
      const route = this.h2Route(request.method, request.authority, request.path, header);
      if (route !== null && route !== 'bad') return this.proxyExchange(request, downstream, encrypted, localPort, route, header);
    }
    request.localPort = localPort;
    return this.deps.http.handleExchange(request, downstream);
  };

  /**
   * False when no route to an HTTP/2 pool can match `sent`: a path that normalisation keeps as it is (no
   * escape, dot segment or backslash) and that starts with none of their paths. True when in doubt.
   */
  private mayGoToH2(sent: string): boolean {
    const paths = this.h2Paths;
    if (paths === null || sent.indexOf('%') >= 0 || sent.indexOf('/.') >= 0 || sent.indexOf('\\') >= 0) return true;
    for (let i = 0; i < paths.length; i++) if (sent.startsWith(paths[i])) return true;
    return false;
  }

  /**
   * The route of a request when it goes to an HTTP/2 pool, null when it does not, 'bad' when its path is
   * refused by normalisation. Routed on, and forwarded with, the normalised path, as the HTTP/1.1 path is.
   */
  private h2Route(method: string, authority: string, sent: string, header: (name: string) => string | undefined): H2Route | null | 'bad' {
    const query = sent.indexOf('?');
    const rawPath = query < 0 ? sent : sent.slice(0, query);
    const path = rawPath === '*' ? rawPath : normalizePath(rawPath);
    if (path === null) return 'bad';
    const hostname = authority.replace(/:\d+$/, '').toLowerCase();
    const route = this.router!.match(method, hostname, path, { header });
    if (route === null || route.action.kind !== 'proxy') return null;
    const pool = this.deps.pools.get(route.action.pool);
    const config = pool?.poolConfig;
    if (!pool || !config || !h2Protocols.has(config.protocol)) return null;
    const target = path === rawPath ? sent : path + (query < 0 ? '' : sent.slice(query));
    return { pool, config, action: route.action, name: route.name, path, target, filters: route.filters };
  }

  private retryPolicyOf(config: PoolConfig): RetryPolicy {
    let policy = this.retryPolicies.get(config);
    if (policy === undefined) {
      policy = compileRetryPolicy(config.retries);
      this.retryPolicies.set(config, policy);
    }
    return policy;
  }

  /**
   * The access-log line of a request proxied to an HTTP/2 pool: the L7 listener's one record and writer,
   * so it carries the fields of every other request's line (request_id, trace_id, tries, phase timings).
   */
  /**
   * `reason`: the filters' codes, or (when empty) the edge's own for an answer it made — a filter's, or an
   * error with no upstream response (tFirstByte 0).
   */
  private logProxied(started: number, request: LoggedRequest, route: H2Route, log: CodecExchangeLog, reason = '', byFilter = false): void {
    // counted as every other path counts its requests (metrics, the pool charts), access log or not
    this.deps.http.requestDone(route.name, route.pool.name, log.status, this.deps.http.now() - started);
    if (!this.listener.access_log) return;
    const rec = this.record;
    rec.requestId = request.requestId;
    rec.client = request.client;
    rec.method = request.method;
    rec.host = request.host;
    rec.path = route.target;
    rec.status = log.status;
    rec.bytesIn = log.bytesIn;
    rec.bytesOut = log.bytesOut;
    rec.route = route.name;
    rec.pool = route.pool.name;
    rec.backend = log.backend;
    rec.protocol = request.protocol;
    rec.traceId = request.traceId;
    rec.spanId = request.spanId;
    rec.parentSpanId = request.parentSpanId;
    rec.traceFlags = request.traceFlags;
    rec.grpcStatus = log.grpcStatus ?? '';
    rec.reason = reason !== '' ? reason : byFilter ? 'filter' : log.tFirstByte === 0 && log.status >= 400 ? refusedReason(log.status) : '';
    rec.attempts = log.attempts;
    rec.tried = log.tried;
    rec.tStart = started;
    rec.tArrived = 0;
    rec.tHead = 0;
    rec.tAttempt = log.tAttempt;
    rec.tConnected = log.tConnected;
    rec.tFirstByte = log.tFirstByte;
    rec.upstreamTiming = log.serverTiming;
    rec.detail = log.detail;
    rec.tAccepted = request.tAccepted;
    rec.tTls = request.tTls;
    rec.filterNames = route.filters !== null && request.filterTimes !== null ? route.filters.names : null;
    rec.filterTimes = rec.filterNames !== null ? request.filterTimes : null;
    rec.earlier = log.earlier;
    rec.pickPool = log.pickSeq !== 0 ? route.pool : null;
    rec.pickSeq = log.pickSeq;
    this.deps.http.writeAccess(rec, this.deps.http.now());
  }

  private proxyExchange(request: ExchangeRequest, downstream: ExchangeDownstream, encrypted: boolean, localPort: number, route: H2Route, header: (name: string) => string | undefined): ExchangeHandle {
    const { http } = this.deps;
    const { path, target } = route;
    const started = http.now();
    const view: IncomingHttpHeaders = { ':authority': request.authority };
    const fields = request.headers;
    for (let i = 0; i < fields.length; i += 2) view[fields[i]] = fields[i + 1];
    const scheme = encrypted ? 'https' : 'http';
    // "request headers": the request id and the client's address by the rules of every path; the trace
    // context the HTTP/1.1 path uses (the edge's span; the trace token never leaves)
    const idName = this.requestIdName;
    const sentRequestId = idName === '' ? undefined : header(idName);
    const requestId = idName === '' ? '' : (usableRequestId(soleValue(fields, idName)) ?? this.nextRequestId());
    const peer = request.peerAddress;
    const peerTrusted = !this.trusted.empty && this.trusted.contains(peer);
    const clientAddress = peerTrusted ? clientFromChain(joinedValues(fields, 'x-forwarded-for'), peer, this.trusted) : peer;
    const trace = http.startTrace(fields);
    const logged: LoggedRequest = { requestId, traceId: trace.traceId, spanId: trace.spanId, parentSpanId: trace.parentId, traceFlags: trace.flags, client: peer, method: request.method, host: request.authority, tAccepted: request.tAccepted ?? 0, tTls: request.tTls ?? 0, filterTimes: null, protocol: request.protocol ?? 'h2' };
    const context = new H2FilterContext({ method: request.method, path, target, host: request.authority, scheme, clientAddress, requestId, routeName: route.name, header, fields, peerAddress: peer, peerTrusted, localPort, sentRequestId, trace });
    // the client's fields minus those a built-in writes itself, then the built-ins' (forwarded headers,
    // request id, traceparent); the route's upstream filters edit the same list later
    const removed = this.builtins.upstreamRemoved;
    const upstreamFields: string[] = [];
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i];
      if (removed.has(name) || name === 'x-switchyard-trace') continue;
      upstreamFields.push(name, fields[i + 1]);
    }
    this.builtins.onUpstreamRequest(context, new FlatWriter(upstreamFields));
    // a declared length over limits.max_body_size: refused before anything goes up, as on the other pairs
    if (request.contentLength > this.listener.limits.max_body_size) {
      const bytesOut = answerLocally(downstream, { status: 413, headers: [], body: '413 content too large\n' }, request.method, this.date);
      this.logProxied(started, logged, route, { ...noUpstream, status: 413, bytesOut });
      return answeredHandle;
    }
    const filters = route.filters;
    if (filters === null) return this.toUpstream(request, downstream, route, upstreamFields, header, view, context, started, logged);
    context.filterTimes = logged.filterTimes = new Float64Array(filters.names.length * FILTER_TIMES);
    const answered = (answer: LocalResponse): void => {
      const bytesOut = answerLocally(downstream, answer, request.method, this.date);
      this.logProxied(started, logged, route, { ...noUpstream, status: answer.status, bytesOut }, context.reason, true);
    };
    const upstream = (): ExchangeHandle => this.toUpstream(request, downstream, route, upstreamFields, header, view, context, started, logged);
    // filters that read the body: its first bytes arrive (held by the deferred handle) before they run
    const wantsBody = filters.bodyPrefix > 0 && request.contentLength !== 0;
    let first: RequestVerdict | Promise<RequestVerdict> | undefined;
    if (!wantsBody) {
      first = filters.onRequest(context);
      if (first === undefined) return upstream();
      if (!isPending(first)) {
        answered(first);
        return answeredHandle;
      }
    }
    // the stream waits — for the body's first bytes, then for an async filter — bounded by timeouts.body
    // while reading ahead and by upstream_response while a filter decides; nothing goes upstream meanwhile
    const deferred = new DeferredHandle();
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = (answer: RequestVerdict, failure?: unknown): void => {
      clearTimeout(timer);
      if (deferred.aborted || settled) return;
      settled = true;
      if (failure !== undefined) {
        this.deps.http.filterFailed(route.name, failure);
        return answered({ status: 500, headers: [], body: '500 internal server error\n' });
      }
      if (answer !== undefined) return answered(answer);
      downstream.resumeBody();
      deferred.attach(upstream());
    };
    const timeOut = (status: number): void => {
      if (deferred.aborted || settled) return;
      settled = true;
      answered({ status, headers: [], body: status === 408 ? '408 request timeout\n' : '503 service unavailable\n' });
    };
    /** `pending`: the filters' promise when they already ran (without reading ahead); else they run now. */
    const decide = (pending?: Promise<RequestVerdict>): void => {
      let verdict: RequestVerdict | Promise<RequestVerdict>;
      try {
        verdict = pending ?? filters.onRequest(context);
      } catch (err) {
        return settle(undefined, err ?? new Error('request filter failed'));
      }
      if (!isPending(verdict)) return settle(verdict);
      downstream.pauseBody();
      const waitMs = route.action.responseTimeout >= 0 ? route.action.responseTimeout : this.listener.timeouts.upstream_response;
      timer = setTimeout(() => timeOut(503), waitMs);
      verdict.then(
        (answer) => settle(answer),
        (err: unknown) => settle(undefined, err ?? new Error('request filter failed')),
      );
    };
    if (!wantsBody) {
      decide(first as Promise<RequestVerdict>);
      return deferred;
    }
    timer = setTimeout(() => timeOut(408), this.listener.timeouts.body);
    deferred.collectPrefix(filters.bodyPrefix, (prefix) => {
      clearTimeout(timer);
      context.prefix = prefix;
      decide();
    });
    return deferred;
  }

  /** After the request filters: the upstream filters on the head, then the HTTP/2 upstream core. */
  private toUpstream(request: ExchangeRequest, downstream: ExchangeDownstream, route: H2Route, upstreamFields: string[], header: (name: string) => string | undefined, view: IncomingHttpHeaders, context: H2FilterContext, started: number, logged: LoggedRequest): ExchangeHandle {
    const { clock } = this.deps;
    const { pool, config, action, path, target } = route;
    const filters = route.filters;
    // the handle (for the backend that answered) and a status a response filter answered with instead
    const upstream: { handle?: ExchangeHandle; replacedStatus: number } = { replacedStatus: 0 };
    if (filters !== null && filters.editsUpstream) filters.onUpstreamRequest(context, new FlatWriter(upstreamFields));
    // the hidden names (hide_headers, hsts), then the built-ins' response hooks and the route's response
    // filters (a filter may set a hidden name again)
    const responseFilters = filters !== null && (filters.editsResponse || filters.handlesFailure) ? filters : null;
    let filtered: FilteredDownstream | null = null;
    if (responseFilters !== null || this.hidden.length > 0 || this.builtins.editsResponseFor(context)) {
      const replaced = (status: number): void => {
        upstream.replacedStatus = status;
      };
      downstream = filtered = new FilteredDownstream(downstream, responseFilters, context, { method: request.method, date: () => this.date.value(), backend: () => upstream.handle?.backend ?? '', hidden: this.hidden, builtins: this.builtins, replaced, resume: () => upstream.handle?.drain() });
    }
    const grpc = isGrpc(header('content-type'));
    const handle = proxyCodecExchange(downstream, {
      pool,
      sessions: this.deps.sessions(pool.name, config),
      request: { ...request, path: upstreamTarget(action, target, path), headers: upstreamFields },
      upstreamHost: action.upstreamHost,
      balance: { clientAddress: request.peerAddress, path, header, cookie: (name) => cookieOf(view, name), preferredBackend: context.preferredBackend },
      retry: this.retryPolicyOf(config),
      budget: this.deps.http.retryBudget(pool.name),
      retryClock: this.deps.http,
      tStart: started,
      detail: this.deps.http,
      responseTimeoutMs: action.responseTimeout >= 0 ? action.responseTimeout : this.listener.timeouts.upstream_response,
      grpc,
      maxBodySize: this.listener.limits.max_body_size,
      clock,
      // a body transform still at work (compression) is waited for: its tail is part of the request
      onDone: (log) => {
        const write = (): void => {
          // bytes_out is what the client got: a transform or a replacing answer changed the body's size
          const delta = filtered === null ? 0 : filtered.bodyDelta;
          const record = upstream.replacedStatus !== 0 || delta !== 0 ? { ...log, status: upstream.replacedStatus || log.status, bytesOut: log.bytesOut + delta } : log;
          this.logProxied(started, logged, route, record, context.reason);
        };
        if (filtered !== null) filtered.afterBody(write);
        else write();
      },
    });
    upstream.handle = handle;
    return handle;
  }

  /**
   * A stream of node:http2 (http2.engine: node): through the same exchange as the codec's requests — the
   * L7 core, or the HTTP/2 upstream core for routes to HTTP/2 pools.
   */
  readonly dispatch = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[], context: StreamContext): StreamCloseListener | undefined => {
    const localPort = stream.session?.socket?.localPort ?? this.listener.listen.port;
    return exchangeStream((request, downstream) => this.exchange(request, downstream, context.encrypted, localPort), stream, headers, rawHeaders, context, this.deps.responseHeaders);
  };
}
