// ip_hash: source hashing by weighted rendezvous (highest random weight). Every backend scores a client
// address by hash(address, backend) scaled by its effective weight; the best usable score wins. A client
// keeps its backend while that backend is usable; when it is not, the client goes to its next-best backend
// (deterministic) and returns when it recovers, and only that backend's clients move when membership changes.
import type { Balancer, BalanceInput, Backend, BalancerFactory, BalancerOptions, PickFilter } from '../types.ts';
import { fmix32, hashString, unitInterval } from './hash.ts';

class IpHash implements Balancer {
  private readonly backends: readonly Backend[];
  private readonly seeds: Uint32Array;

  constructor(backends: readonly Backend[]) {
    this.backends = backends;
    this.seeds = Uint32Array.from(backends, (backend) => hashString(backend.id));
  }

  /** Hashing keeps no state: a pick is its own preview. */
  peek(input: BalanceInput, filter: PickFilter): Backend | undefined {
    return this.pick(input, filter);
  }

  pick(input: BalanceInput, filter: PickFilter): Backend | undefined {
    const key = hashString(input.clientAddress);
    let best = -1;
    let bestScore = 0;
    for (let index = 0; index < this.backends.length; index++) {
      const backend = this.backends[index];
      if (!filter.usable(backend)) continue;
      // weighted rendezvous: -w / ln(u) for u uniform in (0,1) gives each backend a share proportional to w
      const score = -backend.effectiveWeight(filter.now) / Math.log(unitInterval(fmix32(key ^ this.seeds[index])));
      if (best < 0 || score > bestScore) {
        best = index;
        bestScore = score;
      }
    }
    return best < 0 ? undefined : this.backends[best];
  }
}

export const ipHash = {
  name: 'ip_hash',
  summary: 'weighted rendezvous hash of the client address: a client keeps its backend while it is usable, else gets its next-best one',
  create: (backends: readonly Backend[], _options: BalancerOptions): Balancer => new IpHash(backends),
} satisfies BalancerFactory;
