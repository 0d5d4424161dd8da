// Retries: a pool's `retries:` compiled for the data path, and the retry budget that keeps retries from
// amplifying an outage. The attempt core (attempts.ts) decides with them when a failure is retried; this file holds
// what the config says and how many retries the pool may have in flight.
import type { RetriesConfig } from '../config/index.ts';

/** Largest request body kept for a replay; a longer body makes the request non-retryable once sent. */
export const REPLAY_LIMIT = 64 * 1024;
/** Retries always allowed in flight per pool, whatever the traffic (Envoy's min_retry_concurrency). */
export const MIN_RETRY_CONCURRENCY = 3;
/** Length of one bucket of the recent-request window; the window is the current plus the previous one. */
const WINDOW_MS = 1000;

/** Failure kinds, as bits: what `retries.on` enables. */
export const R_CONNECT_ERROR = 1;
export const R_RESET = 2;
export const R_TIMEOUT = 4;

export interface RetryPolicy {
  /** Retries after the first try (0: none). */
  readonly attempts: number;
  /** R_* bits enabled by `on`. */
  readonly on: number;
  /** Upstream statuses that are retried (discarding the response), e.g. 502, 503, 504. */
  readonly statuses: readonly number[];
  /** Methods that may be sent again once bytes reached the upstream (idempotent ones by default). */
  readonly methods: ReadonlySet<string>;
  /** Retries in flight allowed per recent request, as a fraction (budget_percent / 100). */
  readonly budget: number;
  /** Ms a try waits for the response head before it counts as a timeout; -1: the listener's upstream_response. */
  readonly perTryTimeout: number;
}

const DEFAULT_IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** No retries (pools without a config); the keep-alive race is still resent for idempotent methods. */
export const NO_RETRY: RetryPolicy = { attempts: 0, on: 0, statuses: [], methods: DEFAULT_IDEMPOTENT, budget: 0, perTryTimeout: -1 };

/**
 * Whether `retries.on` enables retrying a try that failed with `kind`: an R_* bit, or an upstream status
 * (502, 503, 504, …). The one reading of `on` for every protocol pair (HTTP/1.1 and HTTP/2 upstreams).
 */
export function retryEnabled(policy: RetryPolicy, kind: number): boolean {
  return kind >= 100 ? policy.statuses.includes(kind) : (policy.on & kind) !== 0;
}

export function compileRetryPolicy(config: RetriesConfig): RetryPolicy {
  let on = 0;
  const statuses: number[] = [];
  for (const value of config.on) {
    if (value === 'connect_error') on |= R_CONNECT_ERROR;
    else if (value === 'reset') on |= R_RESET;
    else if (value === 'timeout') on |= R_TIMEOUT;
    else statuses.push(Number(value));
  }
  return {
    attempts: config.attempts,
    on,
    statuses,
    methods: new Set(config.methods),
    budget: config.budget_percent / 100,
    perTryTimeout: config.per_try_timeout ?? -1,
  };
}

/**
 * One pool's retry budget (per listener): a retry may start while the retries in flight stay under
 * max(MIN_RETRY_CONCURRENCY, budget × requests started in the last 1–2 s). So when a whole pool fails,
 * at most that fraction of extra load reaches it, while a quiet pool can still retry a few requests.
 */
export class RetryBudget {
  private bucketStart = 0;
  private current = 0;
  private previous = 0;
  /** Exchanges currently on a retry (each holds one until it ends). */
  inFlight = 0;
  /** Requests sent again to another backend, and retries refused because the budget was spent (metrics). */
  retries = 0;
  exhausted = 0;

  /** A request started for this pool at `now` (ms, monotonic). */
  request(now: number): void {
    if (now - this.bucketStart >= WINDOW_MS) this.rotate(now);
    this.current++;
  }

  /** Takes one retry from the budget; false when the pool is already over it. */
  tryAcquire(now: number, budget: number): boolean {
    if (now - this.bucketStart >= WINDOW_MS) this.rotate(now);
    const limit = Math.max(MIN_RETRY_CONCURRENCY, Math.floor(budget * (this.current + this.previous)));
    if (this.inFlight >= limit) {
      this.exhausted++;
      return false;
    }
    this.inFlight++;
    return true;
  }

  release(): void {
    if (this.inFlight > 0) this.inFlight--;
  }

  private rotate(now: number): void {
    this.previous = now - this.bucketStart < 2 * WINDOW_MS ? this.current : 0;
    this.current = 0;
    this.bucketStart = now;
  }
}
