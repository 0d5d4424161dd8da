// consistent_hash: a hash ring of virtual nodes (ketama style) keyed by `hash_key`. Each backend owns points
// in proportion to its weight; a key goes to the owner of the first point at or after its hash. Points depend
// only on the backend id, so adding or removing one of N backends moves about 1/N of the keys. An unusable
// owner passes the key on clockwise to the next usable one (deterministic). Slow start: a ramping backend
// accepts a key only when the key's own hash falls under its ramp fraction, so its share grows with the ramp
// and the keys it gains stay with it.
import type { Balancer, BalanceInput, Backend, BalancerFactory, BalancerOptions, PickFilter } from '../types.ts';
import { fmix32, hashString, keyReader, unitInterval, type KeyReader } from './hash.ts';

/** Virtual nodes per unit of weight; fewer when the weights are large, to bound the ring. */
const pointsPerWeight = 160;
const maxPoints = 65_536;

class ConsistentHash implements Balancer {
  private readonly backends: readonly Backend[];
  private readonly readKey: KeyReader;
  private readonly seeds: Uint32Array;
  private readonly points: Uint32Array;
  private readonly owners: Uint32Array;

  constructor(backends: readonly Backend[], options: BalancerOptions) {
    this.backends = backends;
    this.readKey = keyReader(options.hashKey);
    this.seeds = Uint32Array.from(backends, (backend) => hashString(backend.id, 0x5eed));
    const totalWeight = backends.reduce((sum, backend) => sum + backend.weight, 0);
    const perWeight = Math.max(1, Math.min(pointsPerWeight, Math.floor(maxPoints / Math.max(1, totalWeight))));
    const ring: { point: number; owner: number }[] = [];
    backends.forEach((backend, owner) => {
      const count = Math.max(1, Math.round(backend.weight * perWeight));
      for (let replica = 0; replica < count; replica++) ring.push({ point: hashString(`${backend.id}#${replica}`), owner });
    });
    // ties between points (rare) are broken by owner so the ring is the same whatever the backend order
    ring.sort((a, b) => a.point - b.point || this.seeds[a.owner] - this.seeds[b.owner]);
    this.points = Uint32Array.from(ring, (entry) => entry.point);
    this.owners = Uint32Array.from(ring, (entry) => entry.owner);
  }

  /** Hashing keeps no state: a pick is its own preview. */
  peek(input: BalanceInput, filter: PickFilter): Backend | undefined {
    return this.pick(input, filter);
  }

  pick(input: BalanceInput, filter: PickFilter): Backend | undefined {
    const size = this.points.length;
    if (size === 0) return undefined;
    const hash = hashString(this.readKey(input));
    const start = this.firstAtOrAfter(hash);
    let fallback: Backend | undefined;
    for (let step = 0; step < size; step++) {
      const owner = this.owners[(start + step) % size];
      const backend = this.backends[owner];
      if (!filter.usable(backend)) continue;
      const share = backend.effectiveWeight(filter.now) / backend.weight;
      if (share >= 1 || unitInterval(fmix32(hash ^ this.seeds[owner])) < share) return backend;
      fallback ??= backend;
    }
    return fallback;
  }

  private firstAtOrAfter(hash: number): number {
    let low = 0;
    let high = this.points.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.points[middle] < hash) low = middle + 1;
      else high = middle;
    }
    return low === this.points.length ? 0 : low;
  }
}

export const consistentHash = {
  name: 'consistent_hash',
  summary: "hash ring on the pool's hash_key: the key's owner, else the next usable owner clockwise",
  create: (backends: readonly Backend[], options: BalancerOptions): Balancer => new ConsistentHash(backends, options),
} satisfies BalancerFactory;
