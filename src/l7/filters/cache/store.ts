// The per-process cache: entries in an LRU bounded in bytes (lru-cache, maxSize + sizeCalculation), the
// Vary names learnt per URL, an index from URL to its stored variants (so invalidating or purging a URL
// touches only its own entries), and the in-flight misses that concurrent requests wait on (coalescing).
// One CacheRegistry per worker process, reached through env.shared; it holds one store per max_size.
import { LRUCache } from 'lru-cache';
import type { Entry } from './entry.ts';
import { DiskStore } from './disk.ts';

/** A miss (or revalidation) in flight: the request that went upstream, and the ones waiting for it. */
export interface Pending {
  /** env.now() after which the leader is presumed lost (a cut connection before any response) and replaced. */
  readonly deadline: number;
  readonly waiters: ((entry: Entry | undefined) => void)[];
}

export class MemoryStore {
  private readonly entries: LRUCache<string, Entry>;
  /** url \0 listener \0 route → the lower-case names its responses vary on ([] when they do not). */
  private readonly varyNames = new Map<string, readonly string[]>();
  /** url \0 listener \0 route → the full keys stored under it. */
  private readonly variants = new Map<string, Set<string>>();
  readonly pending = new Map<string, Pending>();
  /** Size of `pending` at which entries past their deadline are swept (twice what a sweep leaves, at least 1024). */
  private pendingSweepAt = 1024;
  private readonly onEvict: () => void;

  constructor(maxSize: number, onEvict: () => void) {
    this.onEvict = onEvict;
    this.entries = new LRUCache<string, Entry>({
      maxSize,
      sizeCalculation: (entry) => entry.size,
      dispose: (entry, key, reason) => {
        if (reason === 'evict') this.onEvict();
        if (reason === 'set') return;
        const keys = this.variants.get(entry.primary);
        if (keys === undefined) return;
        keys.delete(key);
        if (keys.size === 0) {
          this.variants.delete(entry.primary);
          this.varyNames.delete(entry.primary);
        }
      },
    });
  }

  /** The Vary names last seen for `primary`, or undefined when nothing is stored for it. */
  vary(primary: string): readonly string[] | undefined {
    return this.varyNames.get(primary);
  }

  /**
   * lru-cache's get writes a `status` into its options object and makes an empty one per call when none is
   * given: a hit passes this one instead, its status reset each time (lru-cache fills one in only while a
   * diagnostics channel listens, and must not find the last call's).
   */
  private readonly getOptions: LRUCache.GetOptions<string, Entry, unknown> = { status: undefined };

  get(key: string): Entry | undefined {
    const options = this.getOptions;
    options.status = undefined;
    return this.entries.get(key, options);
  }

  set(entry: Entry, vary: readonly string[]): void {
    this.varyNames.set(entry.primary, vary);
    let keys = this.variants.get(entry.primary);
    if (keys === undefined) this.variants.set(entry.primary, (keys = new Set()));
    keys.add(entry.key);
    this.entries.set(entry.key, entry);
    // too big for the whole store: lru-cache refuses it; keep the index honest
    if (!this.entries.has(entry.key)) keys.delete(entry.key);
  }

  /**
   * Marks `key` in flight. A leader whose client left before any response is never settled, and only a
   * later request for the same key replaces it: over many distinct URLs those would pile up, so entries
   * past their deadline are swept whenever the map has doubled (amortised O(1) per miss).
   */
  lead(key: string, pending: Pending, now: number): void {
    this.pending.set(key, pending);
    if (this.pending.size < this.pendingSweepAt) return;
    for (const [lost, entry] of this.pending) if (entry.deadline <= now) this.pending.delete(lost);
    this.pendingSweepAt = Math.max(1024, this.pending.size * 2);
  }

  /** Drops every variant stored under `primary`; the count dropped. */
  invalidate(primary: string): number {
    const keys = this.variants.get(primary);
    if (keys === undefined) return 0;
    let dropped = 0;
    for (const key of [...keys]) if (this.entries.delete(key)) dropped++;
    this.variants.delete(primary);
    this.varyNames.delete(primary);
    return dropped;
  }

  /** Drops every entry whose URL is `url` (every route), or starts with `prefix`. */
  purge(target: { url?: string; prefix?: string }): number {
    let dropped = 0;
    for (const primary of [...this.variants.keys()]) {
      const url = primary.slice(0, primary.indexOf('\0'));
      if (target.url !== undefined ? url === target.url : target.prefix !== undefined && url.startsWith(target.prefix)) dropped += this.invalidate(primary);
    }
    return dropped;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.entries.calculatedSize;
  }
}

export class CacheRegistry {
  private readonly stores = new Map<number, MemoryStore>();
  private diskStore: DiskStore | undefined;

  /** The process's disk tier (one directory for the whole instance; the largest configured bound holds). */
  disk(dir: string, maxSize: number, warn: (message: string, fields?: Record<string, unknown>) => void): DiskStore {
    if (this.diskStore === undefined) this.diskStore = new DiskStore(dir, maxSize, warn);
    else this.diskStore.widen(maxSize);
    return this.diskStore;
  }

  store(maxSize: number, onEvict: () => void): MemoryStore {
    let store = this.stores.get(maxSize);
    if (store === undefined) this.stores.set(maxSize, (store = new MemoryStore(maxSize, onEvict)));
    return store;
  }

  /** At shutdown (FilterHost.close): lets the disk writes in flight land. */
  async close(): Promise<void> {
    await this.diskStore?.settled();
  }

  /** Drops from memory and disk; the count of entries dropped (memory entries plus disk variants). */
  async purge(target: { url?: string; prefix?: string }): Promise<number> {
    let dropped = 0;
    for (const store of this.stores.values()) dropped += store.purge(target);
    if (this.diskStore !== undefined) {
      if (target.url !== undefined) dropped += await this.diskStore.purgeUrl(target.url);
      else if (target.prefix !== undefined) dropped += await this.diskStore.purgePrefix(target.prefix);
    }
    return dropped;
  }
}

/** The env.shared key of a process's registry. */
export const registryKey = 'cache:registry';
