// least_conn: the usable backend with the fewest in-flight leases per unit of effective weight
// (inflight / weight, compared by cross-multiplication). Backends tied for the least load share the pick by
// smooth weighted round robin (as nginx does), so equals take turns instead of the first taking everything,
// and weights and slow start still count when the pool is idle (every load 0).
import type { Balancer, BalanceInput, Backend, BalancerFactory, BalancerOptions, PickFilter } from '../types.ts';

class LeastConn implements Balancer {
  private readonly backends: readonly Backend[];
  private readonly current: Float64Array;

  constructor(backends: readonly Backend[]) {
    this.backends = backends;
    this.current = new Float64Array(backends.length);
  }

  pick(_input: BalanceInput, filter: PickFilter): Backend | undefined {
    return this.choose(filter, true);
  }

  peek(_input: BalanceInput, filter: PickFilter): Backend | undefined {
    return this.choose(filter, false);
  }

  /** `commit`: move the tie-break's running weights (a pick); without it only say which backend a pick would take. */
  private choose(filter: PickFilter, commit: boolean): Backend | undefined {
    const backends = this.backends;
    const now = filter.now;
    let found = false;
    let bestLoad = 0;
    let bestWeight = 1;
    for (let index = 0; index < backends.length; index++) {
      const backend = backends[index];
      if (!filter.usable(backend)) continue;
      const weight = backend.effectiveWeight(now);
      if (!found || backend.inflight * bestWeight < bestLoad * weight) {
        found = true;
        bestLoad = backend.inflight;
        bestWeight = weight;
      }
    }
    if (!found) return undefined;
    const current = this.current;
    let best = -1;
    let bestValue = 0;
    let total = 0;
    for (let index = 0; index < backends.length; index++) {
      const backend = backends[index];
      if (!filter.usable(backend)) continue;
      const weight = backend.effectiveWeight(now);
      if (backend.inflight * bestWeight !== bestLoad * weight) continue;
      const value = current[index] + weight;
      if (commit) current[index] = value;
      total += weight;
      if (best < 0 || value > bestValue) {
        best = index;
        bestValue = value;
      }
    }
    if (commit) current[best] -= total;
    return backends[best];
  }
}

export const leastConn = {
  name: 'least_conn',
  summary: 'fewest requests in flight per unit of effective weight; backends tied for the least load take turns by weight',
  create: (backends: readonly Backend[], _options: BalancerOptions): Balancer => new LeastConn(backends),
} satisfies BalancerFactory;
