// The resolver's answer cache: positive and negative answers (RFC 2308) keyed by name and type, held for
// their TTL, bounded by entry count and an estimate of bytes (lru-cache evicts the least recently used).
// Expired entries stay for the serve-stale window (RFC 8767) and are used only when upstreams fail.
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../core/index.ts';
import { RRType } from '../wire/constants.ts';
import type { ResourceRecord } from '../wire/writer.ts';

export interface CacheConfig {
  max_entries: number;
  serve_stale?: number;
  min_ttl: number;
  max_ttl: number;
}

export interface CachedAnswer {
  readonly rcode: number;
  readonly answer: readonly ResourceRecord[];
  readonly authority: readonly ResourceRecord[];
  /** Clock time (ms) it was stored. */
  readonly storedAt: number;
  /** Seconds it stays fresh. */
  readonly ttl: number;
}

export interface CacheHit {
  entry: CachedAnswer;
  /** Whole seconds since it was stored: subtracted from every TTL in the answer. */
  age: number;
  stale: boolean;
}

/** Bytes an entry costs beyond its buffers (objects, map slot, key): measured, see the cache test. */
const ENTRY_OVERHEAD = 400;
const RECORD_OVERHEAD = 200;
/** The cache never grows past this, whatever max_entries says. */
export const CACHE_MAX_BYTES = 100 * 1024 * 1024;

export class AnswerCache {
  private readonly entries: LRUCache<string, CachedAnswer>;
  private readonly config: CacheConfig;
  private readonly clock: Clock;

  constructor(config: CacheConfig, clock: Clock) {
    this.config = config;
    this.clock = clock;
    this.entries = new LRUCache<string, CachedAnswer>({ max: config.max_entries, maxSize: CACHE_MAX_BYTES, sizeCalculation: entrySize });
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, qtype: number): CacheHit | undefined {
    const cacheKey = `${qtype}/${key}`;
    const entry = this.entries.get(cacheKey);
    if (entry === undefined) return undefined;
    const ageMs = this.clock.now() - entry.storedAt;
    const stale = ageMs >= entry.ttl * 1000;
    if (stale && ageMs >= entry.ttl * 1000 + (this.config.serve_stale ?? 0)) {
      this.entries.delete(cacheKey);
      return undefined;
    }
    return { entry, age: Math.floor(ageMs / 1000), stale };
  }

  /** Stores an answer; its lifetime is the smallest TTL in it (or the negative TTL), clamped by config. */
  set(key: string, qtype: number, rcode: number, answer: readonly ResourceRecord[], authority: readonly ResourceRecord[]): CachedAnswer {
    let ttl: number;
    if (answer.length > 0) ttl = Math.min(...answer.map((record) => record.ttl));
    else {
      const soa = authority.find((record) => record.type === RRType.SOA);
      ttl = soa ? Math.min(soa.ttl, soa.rdata.readUInt32BE(soa.rdata.length - 4)) : 0;
    }
    ttl = Math.max(this.config.min_ttl, Math.min(this.config.max_ttl, ttl));
    const entry: CachedAnswer = { rcode, answer, authority, storedAt: this.clock.now(), ttl };
    if (ttl > 0 || this.config.serve_stale) this.entries.set(`${qtype}/${key}`, entry);
    return entry;
  }

  clear(): void {
    this.entries.clear();
  }
}

function entrySize(entry: CachedAnswer): number {
  let size = ENTRY_OVERHEAD;
  for (const record of entry.answer) size += RECORD_OVERHEAD + record.owner.length + record.rdata.length;
  for (const record of entry.authority) size += RECORD_OVERHEAD + record.owner.length + record.rdata.length;
  return size;
}
