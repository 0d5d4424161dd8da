// HttpListenerDeps.foreignUpstream for the L7 core: HTTP/1.1 requests routed to pools with protocol h2c,
// h2 or grpc go up as HTTP/2 streams (H2ExchangeProxy). The https/h2c listener passes its own upstream
// sessions (shared with its HTTP/2 clients' streams); an http listener gets an H2ForeignUpstreams, which
// owns sessions for it and must be closed with it.
import type { PoolConfig } from '../config/index.ts';
import type { ExchangeDownstream, ExchangeHandle, ExchangeRequest, ForeignTarget, HttpListenerDeps, UpstreamPool } from '../l7/index.ts';
import { H2ExchangeProxy } from './upstream/exchange-proxy.ts';
import { H2UpstreamSessions, type UpstreamSessionsDeps } from './upstream/sessions.ts';

export type SessionsFor = (pool: string, config: PoolConfig) => H2UpstreamSessions;

/** Starts the exchange on `pool`'s HTTP/2 sessions; undefined when the pool speaks HTTP/1.1. */
export function proxyForeignExchange(sessionsFor: SessionsFor, pool: UpstreamPool, request: ExchangeRequest, downstream: ExchangeDownstream, target: ForeignTarget): ExchangeHandle | undefined {
  const config = pool.poolConfig;
  if (config === undefined || config.protocol === 'http1') return undefined;
  const proxy = new H2ExchangeProxy(pool, sessionsFor(pool.name, config), request, downstream, target);
  proxy.start();
  return proxy;
}

/**
 * Upstream HTTP/2 sessions for a listener that has none of its own (protocol http). A pool whose config
 * object changed (a reload) has its sessions updated on next use. close() with the listener's stop().
 */
export class H2ForeignUpstreams {
  private readonly deps: UpstreamSessionsDeps;
  private readonly byPool = new Map<string, { sessions: H2UpstreamSessions; config: PoolConfig }>();

  constructor(deps: UpstreamSessionsDeps) {
    this.deps = deps;
  }

  readonly foreignUpstream: NonNullable<HttpListenerDeps['foreignUpstream']> = (pool, request, downstream, target) =>
    proxyForeignExchange(this.sessionsFor, pool, request, downstream, target);

  private readonly sessionsFor: SessionsFor = (name, config) => {
    let entry = this.byPool.get(name);
    if (entry === undefined) {
      entry = { sessions: new H2UpstreamSessions(name, config, this.deps), config };
      this.byPool.set(name, entry);
    } else if (entry.config !== config) {
      entry.sessions.updateConfig(config);
      entry.config = config;
    }
    return entry.sessions;
  };

  /** Upstream sessions open, per pool (for status). */
  sessionCounts(): Record<string, number> {
    return Object.fromEntries([...this.byPool].map(([name, entry]) => [name, entry.sessions.sessionCount()]));
  }

  close(): void {
    for (const entry of this.byPool.values()) entry.sessions.close();
    this.byPool.clear();
  }
}
