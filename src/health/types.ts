// The health-check contracts: a probe is one cancellable check of one backend; the checker owns schedules,
// timeouts and rise/fall thresholds, and reports transitions without owning any pool (the primary process
// runs checkers and pushes transitions to workers, whose pools apply them with `pool.setHealth`).
import type { HealthConfig } from '../config/index.ts';
import type { UpstreamTlsClient } from '../tls/index.ts';

/** What a probe checks: a pool backend (`id` is the pool's backend id, "host:port"). */
export interface ProbeTarget {
  id: string;
  host: string;
  port: number;
}

export interface ProbeResult {
  ok: boolean;
  /** Short, lower-case, for logs and the admin API: "status 200", "connection refused", "body mismatch". */
  reason: string;
}

/**
 * One check of one backend. Resolves, never rejects. When `signal` aborts (the checker's timeout, or stop)
 * the probe must release its socket at once; what it then resolves with is ignored.
 */
export interface HealthProbe {
  check(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult>;
}

/** What a probe knows of its pool besides the `health:` section. */
export interface ProbeContext {
  /** An HTTP/1.1 pool's `tls:`, loaded by whoever built the checker: the http probe connects with it. */
  tls?: UpstreamTlsClient;
}

/** Builds a probe for a `health:` section (precomputing matchers and headers); registered under `type`. */
export interface ProbeFactory {
  readonly type: string;
  create(config: HealthConfig, context?: ProbeContext): HealthProbe;
}

/** Probes by `health.type`; built-ins from `builtinProbes()`, the HTTP/2 component adds `grpc`. */
export type ProbeRegistry = ReadonlyMap<string, ProbeFactory>;

/** Called once per state change of one backend. */
export type HealthTransitionListener = (pool: string, backendId: string, healthy: boolean, reason: string) => void;

export interface BackendHealthStatus {
  id: string;
  healthy: boolean;
  /** Reason of the last check. */
  reason?: string;
  /** Current streak of passed / failed checks. */
  successes: number;
  failures: number;
  /** Epoch ms of the last completed check. */
  last_check?: number;
  /** Transitions to healthy (up) and to unhealthy (down) since the checker was built. */
  transitions: { up: number; down: number };
}

export interface HealthCheckStatus {
  pool: string;
  type: string;
  backends: BackendHealthStatus[];
}
