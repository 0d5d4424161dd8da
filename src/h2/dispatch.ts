// Per stream: route it with the L7 router; streams whose route targets a pool speaking HTTP/2 (h2c, h2,
// grpc) are proxied stream to stream (node:http2 streams: H2StreamProxy; the codec's: codec-exchange.ts),
// everything else goes through the L7 core's exchange (HTTP/1.1 upstreams, redirects, fixed responses).
// Built per config; a reload builds a new one.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ListenerConfig, PoolConfig } from '../config/index.ts';
import type { Clock, Logger } from '../core/index.ts';
import { Router, compileRetryPolicy, normalizePath, upstreamTarget, type RetryPolicy, type ExchangeDownstream, type ExchangeHandle, type ExchangeRequest, type HttpListener, type ProxyAction, type UpstreamPool, type UpstreamPools } from '../l7/index.ts';
import type { BalanceInput } from '../pool/index.ts';
import { exchangeStream } from './exchange-adapter.ts';
import { ForwardedHeaders } from './forwarded.ts';
import type { StreamCloseListener, StreamContext } from './frontend.ts';
import { H2StreamProxy, type H2ProxyLog } from './upstream/stream-proxy.ts';
import { proxyCodecExchange, type CodecExchangeLog } from './upstream/codec-exchange.ts';
import { isGrpc } from './grpc.ts';
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

/** A request's route to an HTTP/2 pool, with its path normalised and the target (path + query) to forward. */
interface H2Route {
  pool: UpstreamPool;
  config: PoolConfig;
  action: ProxyAction;
  name: string;
  path: string;
  target: string;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function cookieValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers.cookie;
  const text = Array.isArray(raw) ? raw.join('; ') : raw;
  if (!text) return undefined;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export class StreamDispatch {
  private readonly listener: ListenerConfig;
  private readonly deps: DispatchDeps;
  /** null when no route of this listener targets an HTTP/2 pool: every stream goes to the L7 exchange unmatched. */
  private readonly router: Router | null;
  private readonly forwarded: ForwardedHeaders;
  /** Each pool config's `retries:`, compiled once (a reload brings new config objects). */
  private readonly retryPolicies = new WeakMap<PoolConfig, RetryPolicy>();

  constructor(listener: ListenerConfig, deps: DispatchDeps) {
    this.listener = listener;
    this.deps = deps;
    const routes = listener.routes ?? [];
    const anyH2 = routes.some((route) => route.pool !== undefined && h2Protocols.has(deps.pools.get(route.pool)?.poolConfig?.protocol ?? 'http1'));
    this.router = anyH2 ? new Router(routes) : null;
    this.forwarded = new ForwardedHeaders(listener);
  }

  /**
   * A request of the codec: to an HTTP/2 pool stream to stream when its route says so, otherwise to the
   * L7 exchange (which normalises the path itself and answers 400 for one it refuses).
   */
  readonly exchange = (request: ExchangeRequest, downstream: ExchangeDownstream, encrypted: boolean, localPort: number): ExchangeHandle => {
    if (this.router !== null) {
      const fields = request.headers;
      const header = (name: string) => {
        for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
        return undefined;
      };
      const route = this.h2Route(request.method, request.authority, request.path, header);
      if (route !== null && route !== 'bad') return this.proxyExchange(request, downstream, encrypted, localPort, route, header);
    }
    return this.deps.http.handleExchange(request, downstream);
  };

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
    return { pool, config, action: route.action, name: route.name, path, target };
  }

  private retryPolicyOf(config: PoolConfig): RetryPolicy {
    let policy = this.retryPolicies.get(config);
    if (policy === undefined) {
      policy = compileRetryPolicy(config.retries);
      this.retryPolicies.set(config, policy);
    }
    return policy;
  }

  /** The access-log line of a request proxied to an HTTP/2 pool. */
  private logProxied(started: number, client: string, method: unknown, host: unknown, route: H2Route, log: H2ProxyLog | CodecExchangeLog): void {
    if (!this.listener.access_log) return;
    this.deps.accessLog.info({
      client,
      proto: 'h2',
      method,
      host,
      path: route.target,
      status: log.status,
      grpc_status: log.grpcStatus,
      bytes_in: log.bytesIn,
      bytes_out: log.bytesOut,
      route: route.name,
      pool: route.pool.name,
      backend: 'backend' in log ? log.backend : undefined,
      error: log.error,
      total_ms: Math.round((this.deps.clock.monotonic() - started) * 1000) / 1000,
    });
  }

  private proxyExchange(request: ExchangeRequest, downstream: ExchangeDownstream, encrypted: boolean, localPort: number, route: H2Route, header: (name: string) => string | undefined): ExchangeHandle {
    const { clock } = this.deps;
    const { pool, config, action, path, target } = route;
    const started = clock.monotonic();
    const view: IncomingHttpHeaders = { ':authority': request.authority };
    const fields = request.headers;
    for (let i = 0; i < fields.length; i += 2) view[fields[i]] = fields[i + 1];
    const extra = this.forwarded.compute(view, request.peerAddress, encrypted ? 'https' : 'http', localPort);
    const upstreamFields: string[] = [];
    for (let i = 0; i < fields.length; i += 2) if (extra[fields[i]] === undefined) upstreamFields.push(fields[i], fields[i + 1]);
    for (const name in extra) upstreamFields.push(name, extra[name]);
    const grpc = isGrpc(header('content-type'));
    return proxyCodecExchange(downstream, {
      pool,
      sessions: this.deps.sessions(pool.name, config),
      request: { ...request, path: upstreamTarget(action, target, path), headers: upstreamFields },
      upstreamHost: action.upstreamHost,
      balance: { clientAddress: request.peerAddress, path, header, cookie: (name) => cookieValue(view, name) },
      retry: this.retryPolicyOf(config),
      budget: this.deps.http.retryBudget(pool.name),
      retryClock: this.deps.http,
      responseTimeoutMs: action.responseTimeout >= 0 ? action.responseTimeout : this.listener.timeouts.upstream_response,
      grpc,
      clock,
      onDone: (log) => this.logProxied(started, request.peerAddress, request.method, request.authority, route, log),
    });
  }

  readonly dispatch = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[], context: StreamContext): StreamCloseListener | undefined => {
    if (this.router !== null) {
      const authority = String(headers[':authority'] ?? headers.host ?? '');
      const route = this.h2Route(String(headers[':method']), authority, String(headers[':path'] ?? '/'), (name) => headerValue(headers, name));
      if (route === 'bad') {
        stream.respond({ ':status': 400, 'content-type': 'text/plain; charset=utf-8', ...this.deps.responseHeaders });
        stream.end('400 bad request\n');
        return undefined;
      }
      if (route !== null) {
        this.proxy(stream, headers, context, route);
        return undefined;
      }
    }
    return exchangeStream(this.deps.http, stream, headers, rawHeaders, context, this.deps.responseHeaders);
  };

  private proxy(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, context: StreamContext, route: H2Route): void {
    const { clock } = this.deps;
    const { pool, config, action, path, target } = route;
    const started = clock.monotonic();
    const scheme = context.encrypted ? 'https' : 'http';
    const balance: BalanceInput = {
      clientAddress: context.peerAddress,
      path,
      header: (name) => headerValue(headers, name),
      cookie: (name) => cookieValue(headers, name),
    };
    const sessions = this.deps.sessions(pool.name, config);
    const localPort = stream.session?.socket?.localPort ?? this.listener.listen.port;
    const proxy = new H2StreamProxy(
      {
        stream,
        headers,
        context,
        extraHeaders: this.forwarded.compute(headers, context.peerAddress, scheme, localPort),
        responseHeaders: this.deps.responseHeaders,
        balance,
        clock,
        logger: this.deps.logger,
        onDone: (log) => this.logProxied(started, context.peerAddress, headers[':method'], headers[':authority'], route, log),
      },
      {
        pool,
        sessions,
        path: upstreamTarget(action, target, path),
        upstreamHost: action.upstreamHost,
        attempts: config.retries.attempts + 1,
        responseTimeoutMs: action.responseTimeout >= 0 ? action.responseTimeout : this.listener.timeouts.upstream_response,
      },
    );
    proxy.start();
  }
}
