// The resolver's answer cache: positive and negative answers (RFC 2308) keyed by name and type, held for
// their TTL, bounded by entry count and by bytes (`max_size`; ClockCache evicts, approximately least recently used).
// Expired entries stay for the serve-stale window (RFC 8767) and are used only when upstreams fail or are
// slow. Hits are counted so that popular entries can be refreshed before they expire (prefetch).
//
// An entry keeps its records as one latin1 string of wire bytes (owners equal to the question name as a
// pointer to offset 12, other names in full): strings are the most compact thing V8 holds, and rendering
// is a copy plus a TTL patch. An entry's size is estimated as its record and key bytes plus ENTRY_OVERHEAD,
// measured (bench/dns/cache-memory.ts) so that the estimate bounds the heap the cache really takes.
import type { Clock } from '../../core/index.ts';
import { HEADER_SIZE, RRClass, RRType } from '../wire/constants.ts';
import { keyOf, wireOfKey } from '../wire/name.ts';
import { MessageWriter, type ResourceRecord } from '../wire/writer.ts';
import { ClockCache } from './clock-cache.ts';
import { decodeMessage } from './message.ts';

export interface CacheConfig {
  max_entries: number;
  /** Bytes (estimated as sizeOf does) the cache may hold. */
  max_size: number;
  serve_stale?: number;
  min_ttl: number;
  max_ttl: number;
}

// Entries are many (about a million in 200 MB), so their fields are few and small integers (V8 keeps those in
// the object itself): rcode and the two record counts share one.
export interface CachedAnswer {
  /** Answer then authority records, wire form, as latin1. */
  readonly records: string;
  /** The rcode (4 bits), answer and authority record counts (13 bits each: a message holds < 6000). */
  readonly counts: number;
  /** When it was stored: tenths of a second since the cache was made (a small integer: no boxed double). */
  readonly born: number;
  /** Seconds it stays fresh. */
  readonly ttl: number;
  /** Fresh hits so far (prefetch takes entries hit more than `prefetch_hits` times); PREFETCHED once refreshed. */
  hits: number;
  /** Hit since eviction last looked at it (see ClockCache). */
  referenced: boolean;
}

/** `hits` of an entry whose background refresh has started (at most one per entry). */
export const PREFETCHED = -1;

export const rcodeOf = (entry: CachedAnswer): number => entry.counts >>> 26;
export const answerCountOf = (entry: CachedAnswer): number => (entry.counts >>> 13) & 0x1fff;
export const authorityCountOf = (entry: CachedAnswer): number => entry.counts & 0x1fff;

export interface CacheHit {
  entry: CachedAnswer;
  /** Whole seconds since it was stored: subtracted from every TTL in the answer. */
  age: number;
  stale: boolean;
  /** Milliseconds until it expires (negative once stale). */
  left: number;
}

/**
 * Heap bytes an entry costs beyond its record and key characters: the entry object, the two string
 * headers and its share of the Map's table, which under churn (evictions, expiries) sits at twice the
 * entries' count. Measured by bench/dns/cache-memory.ts: 1.5M entries through a 200 MB cache.
 */
export const ENTRY_OVERHEAD = 170;

/** The estimated bytes of one entry (what max_size is counted in). */
export function sizeOf(entry: CachedAnswer, cacheKey: string): number {
  return ENTRY_OVERHEAD + cacheKey.length + entry.records.length;
}

export class AnswerCache {
  private readonly entries: ClockCache<CachedAnswer>;
  private readonly config: CacheConfig;
  private readonly clock: Clock;
  /** Clock time (ms) `born` counts from. */
  private readonly epoch: number;

  constructor(config: CacheConfig, clock: Clock) {
    this.config = config;
    this.clock = clock;
    this.epoch = clock.now();
    this.entries = new ClockCache<CachedAnswer>(config.max_entries, config.max_size, sizeOf);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Estimated bytes held (sum of sizeOf over the entries). */
  get bytes(): number {
    return this.entries.calculatedSize;
  }

  get(key: string, qtype: number): CacheHit | undefined {
    const cacheKey = `${qtype}/${key}`;
    const entry = this.entries.get(cacheKey);
    if (entry === undefined) return undefined;
    const ageMs = this.clock.now() - this.epoch - entry.born * 100;
    const stale = ageMs >= entry.ttl * 1000;
    if (stale && ageMs >= entry.ttl * 1000 + (this.config.serve_stale ?? 0)) {
      this.entries.delete(cacheKey);
      return undefined;
    }
    return { entry, age: Math.floor(ageMs / 1000), stale, left: entry.ttl * 1000 - ageMs };
  }

  /** Stores an answer; its lifetime is the smallest TTL in it (or the negative TTL), clamped by config. */
  set(key: string, qtype: number, rcode: number, answer: readonly ResourceRecord[], authority: readonly ResourceRecord[]): CachedAnswer {
    // a negative answer's SOA carries the negative TTL (RFC 2308 3)
    const negative = authority.map((record) => (record.type === RRType.SOA ? { ...record, ttl: Math.min(record.ttl, record.rdata.readUInt32BE(record.rdata.length - 4)) } : record));
    let ttl: number;
    if (answer.length > 0) ttl = Math.min(...answer.map((record) => record.ttl));
    else ttl = negative.find((record) => record.type === RRType.SOA)?.ttl ?? 0;
    ttl = Math.max(this.config.min_ttl, Math.min(this.config.max_ttl, ttl));
    const writer = new MessageWriter({ compress: false });
    for (const record of [...answer, ...negative]) writer.record(record, keyOf(record.owner) === key ? HEADER_SIZE : undefined);
    const born = Math.floor((this.clock.now() - this.epoch) / 100);
    const counts = ((rcode & 0xf) << 26) | (answer.length << 13) | negative.length;
    const entry: CachedAnswer = { records: writer.finish().toString('latin1'), counts, born, ttl, hits: 0, referenced: false };
    if (ttl > 0) this.entries.set(flatKey(qtype, key), entry);
    return entry;
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * The stored form of `${qtype}/${key}`: one flat string. A key built by concatenation is a tree of V8 cons
 * strings (keyOf appends a character at a time), and a Map keeps what it is given: a copy through a buffer
 * costs a little on a cache miss and saves ~80 bytes per entry for as long as the entry lives.
 */
function flatKey(qtype: number, key: string): string {
  const prefix = `${qtype}/`;
  const bytes = Buffer.allocUnsafe(prefix.length + key.length);
  bytes.write(prefix, 0, 'latin1');
  bytes.write(key, prefix.length, 'latin1');
  return bytes.toString('latin1');
}

/** The records of an entry as objects, TTLs reduced by `age` (for the iterative resolver's own use). */
export function cachedRecords(entry: CachedAnswer, key: string, qtype: number, age: number): { answer: ResourceRecord[]; authority: ResourceRecord[] } {
  const writer = new MessageWriter({ compress: false });
  writer.header(0, 0x8000, 1, answerCountOf(entry), authorityCountOf(entry), 0);
  writer.question(wireOfKey(key), qtype, RRClass.IN);
  writer.raw(Buffer.from(entry.records, 'latin1'));
  const decoded = decodeMessage(writer.finish());
  const aged = (record: ResourceRecord): ResourceRecord => ({ ...record, ttl: Math.max(0, record.ttl - age) });
  return { answer: (decoded?.answer ?? []).map(aged), authority: (decoded?.authority ?? []).map(aged) };
}

/** Offsets of the TTL fields in records laid out from `start` (owners plain or a pointer). */
export function forEachTtl(message: Buffer, start: number, count: number, visit: (offset: number) => void): void {
  let position = start;
  for (let index = 0; index < count; index++) {
    while (message[position] !== 0 && (message[position] & 0xc0) !== 0xc0) position += message[position] + 1;
    position += message[position] === 0 ? 1 : 2;
    visit(position + 4);
    position += 10 + message.readUInt16BE(position + 8);
  }
}
