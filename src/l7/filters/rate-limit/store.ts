// What the rate_limit filter asks a store, and the in-process store (one process serves the traffic:
// `workers: 0`, tests). The worker store (lease.ts) and the Redis store (redis-store.ts) answer the same.
import { type BucketPolicy, type Take } from './gcra.ts';
import { LocalTable } from './local-table.ts';

/** A store could not decide (unreachable, timed out): the filter applies on_store_error. */
export class StoreError extends Error {
  readonly code = 'ERR_RATE_LIMIT_STORE';
}

export interface RateStore {
  /**
   * Takes one token of bucket `name`. A synchronous answer may be an object the store reuses: read it
   * before the next call. Throws or rejects with a StoreError when it cannot decide.
   */
  decide(name: string, policy: BucketPolicy): Take | Promise<Take>;
  /** Whether `name`s are shared beyond this process (Redis keys are prefixed and length-bounded). */
  readonly kind: 'local' | 'redis';
}

/** Every bucket in this process's memory: exact, synchronous, allocation-free for a known key. */
export class InProcessStore implements RateStore {
  readonly kind = 'local';
  private readonly table = new LocalTable();
  private readonly now: () => number;
  private readonly out: Take = { granted: 0, remaining: 0, resetMs: 0, retryMs: 0 };

  constructor(now: () => number) {
    this.now = now;
  }

  decide(name: string, policy: BucketPolicy): Take {
    return this.table.take(name, this.now(), 1, policy, this.out);
  }
}
