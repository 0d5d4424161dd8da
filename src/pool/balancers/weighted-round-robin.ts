// weighted_round_robin: nginx's smooth weighted round robin. Each pick adds every usable backend's
// effective weight to its running `current`, takes the largest (first on ties) and subtracts the total from
// it; weights 5/1/1 give a a b a c a a, spreading the heavy backend's turns instead of bunching them.
import type { Balancer, BalanceInput, Backend, BalancerFactory, BalancerOptions, PickFilter } from '../types.ts';

class WeightedRoundRobin implements Balancer {
  private readonly backends: readonly Backend[];
  private readonly current: Float64Array;

  constructor(backends: readonly Backend[]) {
    this.backends = backends;
    this.current = new Float64Array(backends.length);
  }

  pick(input: BalanceInput, filter: PickFilter): Backend | undefined {
    return this.choose(filter, true);
  }

  peek(_input: BalanceInput, filter: PickFilter): Backend | undefined {
    return this.choose(filter, false);
  }

  /** `commit`: move the running weights (a pick); without it only say which backend a pick would take. */
  private choose(filter: PickFilter, commit: boolean): Backend | undefined {
    const current = this.current;
    let best = -1;
    let bestValue = 0;
    let total = 0;
    for (let index = 0; index < this.backends.length; index++) {
      const backend = this.backends[index];
      if (!filter.usable(backend)) continue;
      const weight = backend.effectiveWeight(filter.now);
      const value = current[index] + weight;
      if (commit) current[index] = value;
      total += weight;
      if (best < 0 || value > bestValue) {
        best = index;
        bestValue = value;
      }
    }
    if (best < 0) return undefined;
    if (commit) current[best] -= total;
    return this.backends[best];
  }
}

export const weightedRoundRobin = {
  name: 'weighted_round_robin',
  summary: 'smooth weighted round robin: turns in proportion to effective weight; the candidate with the highest running weight is picked, a retry takes the next highest',
  create: (backends: readonly Backend[], _options: BalancerOptions): Balancer => new WeightedRoundRobin(backends),
} satisfies BalancerFactory;
