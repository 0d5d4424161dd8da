// The pool contract: what L7 routes, L4 listeners, health checks, DNS answers and the admin API may use.
// A pool is built from config (its Balancer from the registry by `balance` name); it is shared by all of
// a process's listeners and survives reloads that keep it (health state and connections carry over).

export type BackendState = 'healthy' | 'unhealthy' | 'ejected' | 'draining';

export interface Backend {
  /** "host:port": stable across reloads, the key everywhere (health, admin API, metrics). */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Configured weight. */
  readonly weight: number;
  /** Weight after slow start ramp (equals weight once ramped); what weighted balancers use. */
  effectiveWeight(now: number): number;
  readonly state: BackendState;
  /** Requests (or L4 connections) currently leased to this backend. */
  readonly inflight: number;
}

/** What a balancer may hash on; built by the caller without copying the request. */
export interface BalanceInput {
  clientAddress: string;
  path: string;
  header(name: string): string | undefined;
  cookie(name: string): string | undefined;
}

/** How a leased request ended: feeds least_conn counts, passive health (outlier ejection) and retries. */
export type LeaseOutcome = 'success' | 'connect_error' | 'reset' | 'timeout' | 'bad_response' | 'http_5xx' | 'cancelled';

export interface Lease {
  readonly backend: Backend;
  /** Call exactly once, when the request (or connection) to the backend is over. */
  release(outcome: LeaseOutcome): void;
}

export interface BackendStatus {
  id: string;
  weight: number;
  effective_weight: number;
  state: BackendState;
  inflight: number;
  health_reason?: string;
  ejections: number;
}

export interface PoolStatus {
  name: string;
  balance: string;
  backends: BackendStatus[];
}
