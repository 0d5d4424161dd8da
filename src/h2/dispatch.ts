// Per stream: route it with the L7 router; streams whose route targets a pool speaking HTTP/2 (h2c, h2,
// grpc) are proxied stream to stream (H2StreamProxy), everything else goes through the L7 core's exchange
// (HTTP/1.1 upstreams, redirects, fixed responses). Built per config; a reload builds a new one.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ListenerConfig, PoolConfig } from '../config/index.ts';
import type { Clock, Logger } from '../core/index.ts';
import { Router, normalizePath, upstreamTarget, type HttpListener, type ProxyAction, type UpstreamPool, type UpstreamPools } from '../l7/index.ts';
import type { BalanceInput } from '../pool/index.ts';
import { exchangeStream } from './exchange-adapter.ts';
import { ForwardedHeaders } from './forwarded.ts';
import type { StreamCloseListener, StreamContext } from './frontend.ts';
import { H2StreamProxy } from './upstream/stream-proxy.ts';
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

  /** Some route targets an HTTP/2 or gRPC pool: streams must be node:http2 streams (H2StreamProxy). */
  get proxiesStreams(): boolean {
    return this.router !== null;
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
