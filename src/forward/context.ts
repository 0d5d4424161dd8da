// What a forward proxy's connections share, compiled from one listener config: policy, password file,
// the Via value, the origin pool, the resolver, the counters and the access log. A reload builds a new
// context (the counters and the origin pool carry over); each request takes the one current when it starts.
import type { ListenerConfig } from '../config/index.ts';
import type { Clock, Logger } from '../core/index.ts';
import type { FilterChain } from '../l7/index.ts';
import type { ForwardCounters } from './counters.ts';
import type { OriginPool } from './origin-pool.ts';
import type { PasswordFile } from './passwords.ts';
import type { ForwardPolicy } from './policy.ts';
import type { DestinationResolver } from './resolve.ts';

export interface ForwardContext {
  readonly config: ListenerConfig;
  readonly policy: ForwardPolicy;
  /** Set when proxy_auth is configured. */
  readonly passwords: PasswordFile | undefined;
  /** The Proxy-Authenticate header line (with CRLF) sent with a 407. */
  readonly challenge: string;
  /** Via received-by value added to requests and responses after the protocol version: "NAME (switchyard)", or "proxy" when anonymous. */
  readonly via: string;
  readonly origins: OriginPool;
  readonly resolver: DestinationResolver;
  readonly counters: ForwardCounters;
  readonly clock: Clock;
  readonly accessLog: Logger;
  /** The process log: a bug caught at a phase boundary is reported there. */
  readonly logger: Logger;
  /** The listener's middleware (filters.ts), null when it has none. */
  readonly filters: FilterChain | null;
}

/** One access-log line's fields (the same access log every listener writes to). */
export interface ForwardLogRecord {
  method: string;
  /** Destination host and port as the request named them ('' when the head was not readable). */
  host: string;
  port: number;
  /** Path of an absolute-URI request, without the query (which may hold secrets); '' for CONNECT. */
  path: string;
  status: number;
  /** Why the proxy answered as it did: 'ok', 'tunnel', or the denial/failure/bad-request reason. */
  reason: string;
  user: string | undefined;
  upstream: string | undefined;
  bytes_in: number;
  bytes_out: number;
  started: number;
}

export function writeLog(context: ForwardContext, client: string, record: ForwardLogRecord): void {
  if (!context.config.access_log) return;
  context.accessLog.info({
    listener: context.config.name,
    kind: 'forward_proxy',
    client,
    method: record.method,
    host: record.host,
    port: record.port,
    path: record.path,
    status: record.status,
    reason: record.reason,
    user: record.user,
    backend: record.upstream,
    bytes_in: record.bytes_in,
    bytes_out: record.bytes_out,
    total_ms: Math.round((context.clock.monotonic() - record.started) * 1000) / 1000,
  });
}
