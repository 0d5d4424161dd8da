// PoolLease: one request's (or L4 connection's) hold on a backend. Releasing it twice is a caller bug that
// would corrupt in-flight counts, so the second release is ignored.
import type { PoolBackend } from './backend.ts';
import type { Lease, LeaseOutcome } from './types.ts';

export interface LeaseOwner {
  released(backend: PoolBackend, outcome: LeaseOutcome): void;
}

export class PoolLease implements Lease {
  readonly backend: PoolBackend;
  private owner: LeaseOwner | undefined;

  constructor(owner: LeaseOwner, backend: PoolBackend) {
    this.owner = owner;
    this.backend = backend;
  }

  release(outcome: LeaseOutcome): void {
    const owner = this.owner;
    if (owner === undefined) return;
    this.owner = undefined;
    owner.released(this.backend, outcome);
  }
}
