// Per stream: route it with the L7 router; streams whose route targets a pool speaking HTTP/2 (h2c, h2,
// grpc) are proxied stream to stream (node:http2 streams: H2StreamProxy; the codec's: codec-exchange.ts),
// everything else goes through the L7 core's exchange (HTTP/1.1 upstreams, redirects, fixed responses).
// Built per config; a reload builds a new one.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ListenerConfig, PoolConfig } from '../config/index.ts';
import type { Clock, Logger } from '../core/index.ts';
import { Router, normalizePath, upstreamTarget, type ExchangeDownstream, type ExchangeHandle, type ExchangeRequest, type HttpListener, type ProxyAction, type UpstreamPool, type UpstreamPools } from '../l7/index.ts';
import type { BalanceInput } from '../pool/index.ts';
import { exchangeStream } from './exchange-adapter.ts';
import { ForwardedHeaders } from './forwarded.ts';
import type { StreamCloseListener, StreamContext } from './frontend.ts';
import { H2StreamProxy } from './upstream/stream-proxy.ts';
import { proxyCodecExchange } from './upstream/codec-exchange.ts';
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
      const sent = request.path;
      const query = sent.indexOf('?');
      const rawPath = query < 0 ? sent : sent.slice(0, query);
      const path = rawPath === '*' ? rawPath : normalizePath(rawPath);
      if (path !== null) {
        const fields = request.headers;
        const header = (name: string) => {
          for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
          return undefined;
        };
        const hostname = request.authority.replace(/:\d+$/, '').toLowerCase();
        const route = this.router.match(request.method, hostname, path, { header });
        if (route !== null && route.action.kind === 'proxy') {
          const pool = this.deps.pools.get(route.action.pool);
          const config = pool?.poolConfig;
          if (pool && config && h2Protocols.has(config.protocol)) {
            const target = path === rawPath ? sent : path + (query < 0 ? '' : sent.slice(query));
            return this.proxyExchange(request, downstream, encrypted, localPort, pool, config, route.action, target, path, route.name, header);
          }
        }
      }
    }
    return this.deps.http.handleExchange(request, downstream);
  };

  private proxyExchange(request: ExchangeRequest, downstream: ExchangeDownstream, encrypted: boolean, localPort: number, pool: UpstreamPool, config: PoolConfig, action: ProxyAction, target: string, path: string, routeName: string, header: (name: string) => string | undefined): ExchangeHandle {
    const { clock, accessLog } = this.deps;
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
      attempts: config.retries.attempts + 1,
      responseTimeoutMs: action.responseTimeout >= 0 ? action.responseTimeout : this.listener.timeouts.upstream_response,
      grpc,
      clock,
      onDone: (log) => {
        if (!this.listener.access_log) return;
        accessLog.info({
          client: request.peerAddress,
          proto: 'h2',
          method: request.method,
          host: request.authority,
          path: target,
          status: log.status,
          grpc_status: log.grpcStatus,
          bytes_in: log.bytesIn,
          bytes_out: log.bytesOut,
          route: routeName,
          pool: pool.name,
          error: log.error,
          total_ms: Math.round((clock.monotonic() - started) * 1000) / 1000,
        });
      },
    });
  }

  readonly dispatch = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[], context: StreamContext): StreamCloseListener | undefined => {
    if (this.router !== null) {
      const method = String(headers[':method']);
      const sent = String(headers[':path'] ?? '/');
      const query = sent.indexOf('?');
      const rawPath = query < 0 ? sent : sent.slice(0, query);
      // routed and sent upstream normalised, as the HTTP/1.1 path does (the L7 exchange does it itself)
      const path = rawPath === '*' ? rawPath : normalizePath(rawPath);
      if (path === null) {
        stream.respond({ ':status': 400, 'content-type': 'text/plain; charset=utf-8', ...this.deps.responseHeaders });
        stream.end('400 bad request\n');
        return undefined;
      }
      const target = path === rawPath ? sent : path + (query < 0 ? '' : sent.slice(query));
      const authority = String(headers[':authority'] ?? headers.host ?? '');
      const hostname = authority.replace(/:\d+$/, '').toLowerCase();
      const route = this.router.match(method, hostname, path, { header: (name) => headerValue(headers, name) });
      if (route !== null && route.action.kind === 'proxy') {
        const pool = this.deps.pools.get(route.action.pool);
        const config = pool?.poolConfig;
        if (pool && config && h2Protocols.has(config.protocol)) {
          this.proxy(stream, headers, context, pool, config, route.action, target, path, route.name);
          return undefined;
        }
      }
    }
    return exchangeStream(this.deps.http, stream, headers, rawHeaders, context, this.deps.responseHeaders);
  };

  private proxy(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, context: StreamContext, pool: UpstreamPool, config: PoolConfig, action: ProxyAction, target: string, path: string, routeName: string): void {
    const { clock, accessLog } = this.deps;
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
        onDone: (log) => {
          if (!this.listener.access_log) return;
          accessLog.info({
            client: context.peerAddress,
            proto: 'h2',
            method: headers[':method'],
            host: headers[':authority'],
            path: target,
            status: log.status,
            grpc_status: log.grpcStatus,
            bytes_in: log.bytesIn,
            bytes_out: log.bytesOut,
            route: routeName,
            pool: pool.name,
            backend: log.backend,
            error: log.error,
            total_ms: Math.round((clock.monotonic() - started) * 1000) / 1000,
          });
        },
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
