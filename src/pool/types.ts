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
  /** The active health verdict alone (true while no checker said otherwise), whatever `state` shows. */
  readonly healthy: boolean;
  /** Requests (or L4 connections) currently leased to this backend. */
  readonly inflight: number;
}

/** What a balancer may hash on; built by the caller without copying the request. */
export interface BalanceInput {
  clientAddress: string;
  path: string;
  header(name: string): string | undefined;
  cookie(name: string): string | undefined;
  /**
   * A backend a filter asked for (sticky sessions), by id or by its stickyKey: leased when it is usable,
   * else the policy picks. Absent or '' for most requests.
   */
  readonly preferredBackend?: string;
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
  /** Times passive outlier detection ejected it since the pool was built. */
  ejections: number;
  /** Epoch ms when the current ejection ends (only while ejected). */
  ejected_until?: number;
}

export interface PoolStatus {
  name: string;
  balance: string;
  /** Backends a request could get now (state healthy). */
  usable: number;
  backends: BackendStatus[];
}

/** One address DNS `pool:` records answer with. */
export interface HealthyAddress {
  host: string;
  port: number;
  weight: number;
}

// ---- balancers (src/pool/balancers): one file per policy, registered by its config name ----

/**
 * What a balancer may ask during one pick. The pool reuses one object for every pick (no allocation);
 * a balancer must not keep it past the call.
 */
export interface PickFilter {
  /** Time of this pick (epoch ms): the argument for `effectiveWeight`. */
  readonly now: number;
  /** False for unhealthy, ejected and draining backends and for those already tried by this request. */
  usable(backend: Backend): boolean;
}

/**
 * A balancing policy over an immutable backend list (rebuilt when membership changes). `pick` returns the
 * most preferred usable backend; asking again with the previous choice marked tried yields the next
 * candidate (deterministically for hash policies). It must not allocate for round robin, weighted round
 * robin and least_conn: it runs once per request.
 */
export interface Balancer {
  pick(input: BalanceInput, filter: PickFilter): Backend | undefined;
  /**
   * What pick() would return now, changing nothing (no turn taken, no counter moved): `switchyard explain`.
   * A policy that cannot tell without taking a turn leaves it out, and explain says so.
   */
  peek?(input: BalanceInput, filter: PickFilter): Backend | undefined;
  /** Stateful policies: a lease on `backend` was handed out. */
  onTake?(backend: Backend): void;
  /** Stateful policies: a lease on `backend` ended. */
  onRelease?(backend: Backend, outcome: LeaseOutcome): void;
}

export interface BalancerOptions {
  /** consistent_hash (and anything else that hashes): `header:NAME` | `cookie:NAME` | `path` | `ip`. */
  hashKey?: string;
}

export interface BalancerFactory {
  /** The config name (`balance:`), equal to the registry key. */
  readonly name: string;
  /** What the policy does, in one sentence for `switchyard explain` (how it orders the candidates). */
  readonly summary?: string;
  create(backends: readonly Backend[], options: BalancerOptions): Balancer;
}

/** Balancers by config name; built-ins come from `builtinBalancers()`, a test or plugin may add more. */
export type BalancerRegistry = ReadonlyMap<string, BalancerFactory>;

/** A pool changed in a way observers (DNS answers, admin API, metrics) may care about. */
export interface PoolChange {
  pool: string;
  /** The backend concerned; undefined when the membership or policy changed. */
  backend?: string;
  state?: BackendState;
  reason: string;
}

export type PoolChangeListener = (change: PoolChange) => void;
