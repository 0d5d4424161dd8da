// The listener factories of this build, by protocol. A protocol without a factory is refused at config
// load with a clear message (traffic-plane.ts), never half-started. Each component's code is imported on
// first use: a worker whose config has only http listeners and HTTP/1.1 pools never loads src/h2 and
// node:http2 (with the gRPC health probe they pull in, ~5 MB of resident memory per process).
import type { Config, ListenerConfig } from '../config/index.ts';
import type * as H2 from '../h2/index.ts';
import type * as H3 from '../h3/index.ts';
import type * as L4 from '../l4/index.ts';
import type * as L7 from '../l7/index.ts';
import type * as Forward from '../forward/index.ts';
import type { ListenerDeps, ListenerFactory, TrafficListener } from './listener-factory.ts';

type Protocol = ListenerConfig['protocol'];

/** The components a listener kind is served by, imported on first use. */
interface Components {
  l7?: typeof L7;
  h2?: typeof H2;
  h3?: typeof H3;
  l4?: typeof L4;
  forward?: typeof Forward;
}
type ComponentName = keyof Components;

/** One listener kind: the components it needs loaded, and its factory (called only after they are). */
interface ListenerKind {
  needs: readonly ComponentName[];
  create(components: Components, listener: ListenerConfig, deps: ListenerDeps): TrafficListener;
}

// https (TLS + ALPN h2/http1.1) and h2c listeners: src/h2, which serves HTTP/1.1 through the L7 core, and
// HTTP/3 through src/h3 when the listener has `http3` (load() imports it then)
const http2Kind: ListenerKind = {
  needs: ['l7', 'h2'],
  // looked up when HTTP/3 starts, not now: a reload that turns http3 on imports src/h3 after this listener was made
  create: (c, listener, deps) => c.h2!.createH2Listener(listener, { ...deps, http3: (config, hooks) => c.h3!.createH3Frontend(config, hooks) }),
};

/**
 * The listener kinds of this build, by protocol: a new protocol is one entry here. Every kind runs the
 * listener layer's connection filters (src/listener) on its accepted connections itself.
 */
const kinds: Readonly<Partial<Record<Protocol, ListenerKind>>> = {
  http: { needs: ['l7'], create: (c, listener, deps) => http1Listener(c, listener, deps) },
  https: http2Kind,
  h2c: http2Kind,
  tcp: { needs: ['l4'], create: (c, listener, deps) => c.l4!.createTcpListener(listener, { pools: deps.pools, accessLog: deps.accessLog, logger: deps.logger, clock: deps.clock }) },
  udp: { needs: ['l4'], create: (c, listener, deps) => c.l4!.createUdpListener(listener, { pools: deps.pools, accessLog: deps.accessLog, logger: deps.logger, clock: deps.clock }) },
  // src/forward parses with the L7 codec (imported through src/l7's entry)
  // (src/l7 also builds its middleware: the same filters, sharing the process's cache)
  forward_proxy: {
    needs: ['l7', 'forward'],
    create: (c, listener, deps) =>
      c.forward!.createForwardProxyListener(listener, { accessLog: deps.accessLog, logger: deps.logger, clock: deps.clock, baseDir: deps.baseDir, resolver: deps.resolver, filters: deps.filters, dataDir: deps.dataDir }),
  },
};

const importers: Readonly<Record<ComponentName, () => Promise<unknown>>> = {
  l7: () => import('../l7/index.ts'),
  h2: () => import('../h2/index.ts'),
  h3: () => import('../h3/index.ts'),
  l4: () => import('../l4/index.ts'),
  forward: () => import('../forward/index.ts'),
};

export class ListenerFactories {
  private readonly components: Components = {};
  /** The process's filter host (src/l7 filters): one for every HTTP listener and reload; made with src/l7. */
  private filterHost: L7.FilterHost | undefined;

  /** The filter host HTTP listeners build their middleware with (src/l7 is loaded by then). */
  filters(logger: ListenerDeps['logger']): L7.FilterHost {
    return (this.filterHost ??= this.components.l7!.builtinFilterHost({ warn: (message, fields) => logger.warn(fields ?? {}, message) }));
  }

  /** The filters' counters (empty before any HTTP listener). */
  filterStats(): L7.FilterEventSeries[] {
    return this.filterHost?.snapshot() ?? [];
  }

  /** Drops `cache` filter entries by URL or prefix in this process (POST /api/cache/purge); the count dropped. */
  async purgeCache(target: { url?: string; prefix?: string }): Promise<number> {
    return this.filterHost === undefined ? 0 : this.components.l7!.purgeCache(this.filterHost, target);
  }

  /** Closes what the filters share (store clients) at shutdown. */
  async close(): Promise<void> {
    await this.filterHost?.close();
  }

  /** Imports the components a config needs; TrafficPlane.apply awaits it before building any listener. */
  async load(config: Config): Promise<void> {
    const needed = new Set<ComponentName>(config.listeners.flatMap((listener) => kinds[listener.protocol]?.needs ?? []));
    // HTTP/1.1 listeners with routes to HTTP/2 pools relay them through src/h2 (docs/tls-h2.md)
    if (needed.has('l7') && Object.values(config.pools).some((pool) => pool.protocol !== 'http1')) needed.add('h2');
    // https listeners with `http3`: src/h3 and its addon (a reload that turns it on imports it then)
    if (config.listeners.some((listener) => listener.http3.enabled)) needed.add('h3');
    for (const name of needed) {
      if (this.components[name] === undefined) Object.assign(this.components, { [name]: await importers[name]() });
    }
  }

  /** The factory of a protocol this build serves, undefined for one it does not; load() has run for the config. */
  get(protocol: Protocol): ListenerFactory | undefined {
    const kind = kinds[protocol];
    if (kind === undefined) return undefined;
    return (listener, deps) => kind.create(this.components, listener, kind.needs.includes('l7') ? { ...deps, filters: this.filters(deps.logger) } : deps);
  }
}

function http1Listener(components: Components, listener: ListenerConfig, deps: ListenerDeps): TrafficListener {
  const l7 = components.l7!;
  // HTTP/1.1 requests routed to h2c/h2/grpc pools go up as HTTP/2 streams (docs/tls-h2.md). Created on the
  // first such request: load() has imported src/h2 by then, since only a config with such a pool routes one.
  let foreign: H2.H2ForeignUpstreams | undefined;
  const inner = l7.createHttpListener(listener, {
    pools: deps.pools,
    accessLog: deps.accessLog,
    logger: deps.logger,
    clock: deps.clock,
    upstreamSettings: l7.upstreamSettingsFromPools(deps.poolConfigs),
    baseDir: deps.baseDir,
    dataDir: deps.dataDir,
    traceToken: deps.traceToken,
    filters: deps.filters,
    onRequestDone: deps.onRequestDone,
    spans: deps.spans,
    dns: deps.dns,
    foreignUpstream: (pool, request, downstream, target) => {
      foreign ??= new components.h2!.H2ForeignUpstreams({ baseDir: deps.baseDir, logger: deps.logger, connectTimeoutMs: listener.timeouts.upstream_connect });
      return foreign.foreignUpstream(pool, request, downstream, target);
    },
  });
  return {
    start: () => inner.start(),
    drain: (deadline) => inner.drain(deadline),
    stop: async () => {
      await inner.stop();
      foreign?.close();
    },
    address: () => inner.address(),
    status: () => inner.status(),
    updateConfig: (next, pools, poolConfigs) => inner.updateConfig(next, pools, l7.upstreamSettingsFromPools(poolConfigs)),
  };
}
