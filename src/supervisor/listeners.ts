// The listener factories of this build, by protocol. A protocol without a factory is refused at config
// load with a clear message (traffic-plane.ts), never half-started.
import type { ListenerConfig } from '../config/index.ts';
import { createHttpListener, upstreamSettingsFromPools } from '../l7/index.ts';
import { createTcpListener } from '../l4/index.ts';
import { createH2Listener, H2ForeignUpstreams } from '../h2/index.ts';
import type { ListenerDeps, ListenerFactory, TrafficListener } from './listener-factory.ts';

const http1: ListenerFactory = (listener: ListenerConfig, deps: ListenerDeps): TrafficListener => {
  // HTTP/1.1 requests routed to h2c/h2/grpc pools go up as HTTP/2 streams (docs/tls-h2.md)
  const foreign = new H2ForeignUpstreams({ baseDir: deps.baseDir, logger: deps.logger, connectTimeoutMs: listener.timeouts.upstream_connect });
  const inner = createHttpListener(listener, {
    pools: deps.pools,
    accessLog: deps.accessLog,
    logger: deps.logger,
    clock: deps.clock,
    upstreamSettings: upstreamSettingsFromPools(deps.poolConfigs),
    baseDir: deps.baseDir,
    traceToken: deps.traceToken,
    onRequestDone: deps.onRequestDone,
    foreignUpstream: foreign.foreignUpstream,
  });
  return {
    start: () => inner.start(),
    drain: (deadline) => inner.drain(deadline),
    stop: async () => {
      await inner.stop();
      foreign.close();
    },
    address: () => inner.address(),
    status: () => inner.status(),
    updateConfig: (next, pools, poolConfigs) => inner.updateConfig(next, pools, upstreamSettingsFromPools(poolConfigs)),
  };
};

const tcp: ListenerFactory = (listener, deps) => createTcpListener(listener, { pools: deps.pools, accessLog: deps.accessLog, logger: deps.logger, clock: deps.clock });

// https (TLS + ALPN h2/http1.1) and h2c listeners: src/h2, which serves HTTP/1.1 through the L7 core
const h2: ListenerFactory = (listener, deps) => createH2Listener(listener, deps);

export function listenerFactories(): Partial<Record<ListenerConfig['protocol'], ListenerFactory>> {
  return { http: http1, tcp, https: h2, h2c: h2 };
}
