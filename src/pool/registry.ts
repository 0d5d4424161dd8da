// PoolRegistry: the pools of one config snapshot, by name; shared by L7 routes, L4 listeners and DNS
// `pool:` records. `buildPools` is the reload path: pools that remain keep their Pool object (and with it
// their backends' health, ejection, in-flight and slow start state); new ones are built; dropped ones are
// set draining and listed in `retired` for the caller to close once their requests are done.
import type { PoolConfig } from '../config/index.ts';
import { EdgeError, type HasStatus } from '../core/index.ts';
import { Pool, type PoolDeps } from './pool.ts';
import { builtinBalancers } from './balancers/index.ts';
import type { PoolChangeListener, PoolStatus } from './types.ts';

export class PoolRegistry implements HasStatus<PoolStatus[]> {
  private readonly pools: ReadonlyMap<string, Pool>;
  /** Pools of the previous registry that this one dropped: draining, to be closed by the caller. */
  readonly retired: readonly Pool[];

  private pending: (() => void) | undefined;
  private readonly created: readonly Pool[];

  constructor(pools: ReadonlyMap<string, Pool>, retired: readonly Pool[] = [], pending?: () => void, created: readonly Pool[] = []) {
    this.pools = pools;
    this.retired = retired;
    this.pending = pending;
    this.created = created;
  }

  /** Applies a deferred build to the kept pools (see `BuildPoolsOptions.defer`); later calls do nothing. */
  commit(): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.();
  }

  /** Abandons this build: closes only the pools it created; the kept ones (shared with the previous registry) stay. */
  discard(): void {
    this.pending = undefined;
    for (const pool of this.created) pool.close();
  }

  get(name: string): Pool | undefined {
    return this.pools.get(name);
  }

  /** The pool, or an EdgeError naming it (config cross-checks make this a bug, not a user error). */
  require(name: string): Pool {
    const pool = this.pools.get(name);
    if (pool === undefined) throw new EdgeError('SY_ERR_POOL_UNKNOWN', `pool ${name}: not defined`, { source: 'internal' });
    return pool;
  }

  names(): string[] {
    return [...this.pools.keys()];
  }

  values(): IterableIterator<Pool> {
    return this.pools.values();
  }

  status(): PoolStatus[] {
    return [...this.pools.values()].map((pool) => pool.status());
  }

  /** Subscribes to every pool of this registry; returns the function that unsubscribes from all. */
  onChange(listener: PoolChangeListener): () => void {
    const unsubscribes = [...this.pools.values()].map((pool) => pool.onChange(listener));
    return () => {
      for (const unsubscribe of unsubscribes) unsubscribe();
    };
  }

  /** Cancels every pool's timers (process shutdown). */
  close(): void {
    for (const pool of this.pools.values()) pool.close();
  }
}

export interface BuildPoolsOptions {
  /**
   * Build-then-swap: leave the kept pools of `previous` untouched until `registry.commit()` (a reload that
   * fails later, e.g. a listener that cannot bind, then calls `registry.discard()` and nothing changed).
   * Without it, kept pools are updated at once and `commit()` does nothing.
   */
  defer?: boolean;
}

/** Builds the pools of `configs`, reusing those of `previous` that remain (see the file comment). */
export function buildPools(configs: Readonly<Record<string, PoolConfig>>, deps: PoolDeps, previous?: PoolRegistry, options: BuildPoolsOptions = {}): PoolRegistry {
  // refuse before touching any kept pool, so a failed reload leaves the previous registry as it was
  const balancers = deps.balancers ?? builtinBalancers();
  for (const [name, config] of Object.entries(configs)) {
    if (!balancers.has(config.balance)) {
      throw new EdgeError('SY_ERR_POOL_BALANCE', `pool ${name}: no balancer named ${config.balance}`, { source: 'config' });
    }
  }
  const poolDeps: PoolDeps = { ...deps, balancers };
  const pools = new Map<string, Pool>();
  const created: Pool[] = [];
  const updates: (() => void)[] = [];
  for (const [name, config] of Object.entries(configs)) {
    const kept = previous?.get(name);
    if (kept !== undefined) {
      updates.push(() => kept.update(config));
      pools.set(name, kept);
    } else {
      const pool = new Pool(name, config, poolDeps);
      created.push(pool);
      pools.set(name, pool);
    }
  }
  const retired: Pool[] = [];
  for (const pool of previous?.values() ?? []) {
    if (pools.has(pool.name)) continue;
    updates.push(() => {
      for (const backend of pool.backends) pool.setDraining(backend.id, true);
    });
    retired.push(pool);
  }
  const apply = () => {
    for (const update of updates) update();
  };
  if (!options.defer) {
    apply();
    return new PoolRegistry(pools, retired, () => {}, created);
  }
  return new PoolRegistry(pools, retired, apply, created);
}
