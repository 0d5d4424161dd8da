// The listener factories of this build, by protocol. A protocol without a factory is refused at config
// load with a clear message (traffic-plane.ts), never half-started. Each component's code is imported on
// first use: a worker whose config has only http listeners and HTTP/1.1 pools never loads src/h2 and
// node:http2 (with the gRPC health probe they pull in, ~5 MB of resident memory per process).
import type { Config, ListenerConfig } from '../config/index.ts';
import type * as H2 from '../h2/index.ts';
import type * as L4 from '../l4/index.ts';
import type * as L7 from '../l7/index.ts';
import type { ListenerDeps, ListenerFactory, TrafficListener } from './listener-factory.ts';

type Protocol = ListenerConfig['protocol'];

const supported: ReadonlySet<Protocol> = new Set<Protocol>(['http', 'https', 'h2c', 'tcp']);

export class ListenerFactories {
  private l7: typeof L7 | undefined;
  private l4: typeof L4 | undefined;
  private h2: typeof H2 | undefined;

  /** Imports the components a config needs; TrafficPlane.apply awaits it before building any listener. */
  async load(config: Config): Promise<void> {
    const protocols = new Set(config.listeners.map((listener) => listener.protocol));
    const http2 = protocols.has('https') || protocols.has('h2c') || Object.values(config.pools).some((pool) => pool.protocol !== 'http1');
    if (protocols.has('http') || http2) this.l7 ??= await import('../l7/index.ts');
    if (http2) this.h2 ??= await import('../h2/index.ts');
    if (protocols.has('tcp')) this.l4 ??= await import('../l4/index.ts');
  }

  /** The factory of a protocol this build serves, undefined for one it does not; load() has run for the config. */
  get(protocol: Protocol): ListenerFactory | undefined {
    if (!supported.has(protocol)) return undefined;
    if (protocol === 'http') return this.http1;
    if (protocol === 'tcp') return (listener, deps) => this.l4!.createTcpListener(listener, { pools: deps.pools, accessLog: deps.accessLog, logger: deps.logger, clock: deps.clock });
    // https (TLS + ALPN h2/http1.1) and h2c listeners: src/h2, which serves HTTP/1.1 through the L7 core
    return (listener, deps) => this.h2!.createH2Listener(listener, deps);
  }

  private readonly http1: ListenerFactory = (listener: ListenerConfig, deps: ListenerDeps): TrafficListener => {
    const l7 = this.l7!;
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
      onRequestDone: deps.onRequestDone,
      foreignUpstream: (pool, request, downstream, target) => {
        foreign ??= new this.h2!.H2ForeignUpstreams({ baseDir: deps.baseDir, logger: deps.logger, connectTimeoutMs: listener.timeouts.upstream_connect });
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
  };
}
