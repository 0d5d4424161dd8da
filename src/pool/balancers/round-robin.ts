// round_robin: each usable backend in turn, ignoring configured weights (weighted_round_robin honours them).
// A backend under slow start takes only its ramp fraction of its turns, through a credit it accumulates each
// time its turn comes, so a recovering backend is not handed a full share at once.
import type { Balancer, BalanceInput, Backend, BalancerFactory, BalancerOptions, PickFilter } from '../types.ts';

class RoundRobin implements Balancer {
  private readonly backends: readonly Backend[];
  private readonly credit: Float64Array;
  private cursor = 0;

  constructor(backends: readonly Backend[]) {
    this.backends = backends;
    this.credit = new Float64Array(backends.length);
  }

  pick(_input: BalanceInput, filter: PickFilter): Backend | undefined {
    return this.choose(filter, true);
  }

  peek(_input: BalanceInput, filter: PickFilter): Backend | undefined {
    return this.choose(filter, false);
  }

  /** `commit`: take the turn (cursor and credits move); without it only say which backend a pick would take. */
  private choose(filter: PickFilter, commit: boolean): Backend | undefined {
    const count = this.backends.length;
    let fallback = -1;
    for (let step = 0; step < count; step++) {
      const index = (this.cursor + step) % count;
      const backend = this.backends[index];
      if (!filter.usable(backend)) continue;
      const share = backend.effectiveWeight(filter.now) / backend.weight;
      if (share < 1) {
        const credit = this.credit[index] + share;
        if (commit) this.credit[index] = credit;
        if (credit < 1) {
          if (fallback < 0) fallback = index;
          continue;
        }
        if (commit) this.credit[index] -= 1;
      }
      if (commit) this.cursor = (index + 1) % count;
      return backend;
    }
    if (fallback < 0) return undefined;
    // every usable backend is ramping and short of credit: serving one beats refusing the request
    if (commit) this.cursor = (fallback + 1) % count;
    return this.backends[fallback];
  }
}

export const roundRobin = {
  name: 'round_robin',
  summary: 'each usable backend in turn, weights ignored (a backend under slow start takes its ramp share of turns): the next in turn is picked, a retry takes the one after',
  create: (backends: readonly Backend[], _options: BalancerOptions): Balancer => new RoundRobin(backends),
} satisfies BalancerFactory;
