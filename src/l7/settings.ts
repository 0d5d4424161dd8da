// Upstream connection settings derived from the pools section (keepalive, max_connections, connection_queue, tls).
import type { PoolConfig } from '../config/index.ts';
// upstream-client.ts alone, as runtime.ts takes policy.ts: the tls index would load the certificate tooling into every worker
import { UpstreamTlsClient } from '../tls/index.ts';
import type { UpstreamSettings } from './types.ts';
import { compileRetryPolicy } from './retry-policy.ts';

/**
 * One pool's settings: keep-alive, connection limit, connect attempts, retry policy, TLS (see UpstreamSettings).
 * The TLS client is built here without I/O; the runtime that takes these settings loads it (loadUpstreamTls).
 */
export function settingsOf(pool: PoolConfig, name: string): UpstreamSettings {
  return {
    maxIdle: pool.keepalive.max_idle === 'auto' ? Number.POSITIVE_INFINITY : pool.keepalive.max_idle,
    idleTimeout: pool.keepalive.idle_timeout,
    maxConnections: pool.max_connections,
    queueSize: pool.connection_queue.size,
    queueTimeout: pool.connection_queue.timeout,
    connectAttempts: pool.retries.on.includes('connect_error') ? 1 + pool.retries.attempts : 1,
    retry: compileRetryPolicy(pool.retries),
    // HTTP/2 pools' tls is src/h2's (the connector never sees those pools)
    tls: pool.tls !== undefined && pool.protocol === 'http1' ? new UpstreamTlsClient(name, pool.tls) : undefined,
  };
}

/** Starts reading the CA of every TLS pool in `settings` (once per settings object; connections wait for it). */
export function loadUpstreamTls(settings: Iterable<UpstreamSettings>, baseDir: string): void {
  for (const one of settings) void one.tls?.load(baseDir);
}

export function upstreamSettingsFromPools(pools: Readonly<Record<string, PoolConfig>>): Map<string, UpstreamSettings> {
  const settings = new Map<string, UpstreamSettings>();
  for (const [name, pool] of Object.entries(pools)) {
    settings.set(name, settingsOf(pool, name));
  }
  return settings;
}
