// Upstream connection settings derived from the pools section (keepalive, max_connections, connection_queue).
import type { PoolConfig } from '../config/index.ts';
import type { UpstreamSettings } from './types.ts';
import { compileRetryPolicy } from './retry-policy.ts';

/** One pool's settings: keep-alive, connection limit, connect attempts, retry policy (see UpstreamSettings). */
export function settingsOf(pool: PoolConfig): UpstreamSettings {
  return {
    maxIdle: pool.keepalive.max_idle,
    idleTimeout: pool.keepalive.idle_timeout,
    maxConnections: pool.max_connections,
    queueSize: pool.connection_queue.size,
    queueTimeout: pool.connection_queue.timeout,
    connectAttempts: pool.retries.on.includes('connect_error') ? 1 + pool.retries.attempts : 1,
    retry: compileRetryPolicy(pool.retries),
  };
}

export function upstreamSettingsFromPools(pools: Readonly<Record<string, PoolConfig>>): Map<string, UpstreamSettings> {
  const settings = new Map<string, UpstreamSettings>();
  for (const [name, pool] of Object.entries(pools)) {
    settings.set(name, settingsOf(pool));
  }
  return settings;
}
