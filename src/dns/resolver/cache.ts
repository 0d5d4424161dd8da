// The resolver's answer cache: positive and negative answers (RFC 2308) keyed by name and type, held for
// their TTL, bounded by entry count and bytes (lru-cache evicts the least recently used). Expired entries
// stay for the serve-stale window (RFC 8767) and are used only when upstreams fail.
//
// An entry keeps its records as one latin1 string of wire bytes (owners equal to the question name as a
// pointer to offset 12, other names in full): strings are the most compact thing V8 holds, and rendering
// is a copy plus a TTL patch. 100k entries measure ~40 MB (see cache.test.ts).
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../core/index.ts';
import { HEADER_SIZE, RRClass, RRType } from '../wire/constants.ts';
import { keyOf, wireOfKey } from '../wire/name.ts';
import { MessageWriter, type ResourceRecord } from '../wire/writer.ts';
import { decodeMessage } from './message.ts';

export interface CacheConfig {
  max_entries: number;
  serve_stale?: number;
  min_ttl: number;
  max_ttl: number;
}

export interface CachedAnswer {
  readonly rcode: number;
  /** Answer then authority records, wire form, as latin1. */
  readonly records: string;
  readonly answerCount: number;
  readonly authorityCount: number;
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

/** Bytes an entry costs beyond its record bytes (entry object, key, lru-cache slots): measured. */
const ENTRY_OVERHEAD = 250;
/** The cache never grows past this, whatever max_entries says. */
export const CACHE_MAX_BYTES = 100 * 1024 * 1024;

export class AnswerCache {
  private readonly entries: LRUCache<string, CachedAnswer>;
  private readonly config: CacheConfig;
  private readonly clock: Clock;

  constructor(config: CacheConfig, clock: Clock) {
    this.config = config;
    this.clock = clock;
    this.entries = new LRUCache<string, CachedAnswer>({
      max: config.max_entries,
      maxSize: CACHE_MAX_BYTES,
      sizeCalculation: (entry, key) => ENTRY_OVERHEAD + key.length + entry.records.length,
    });
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
    // a negative answer's SOA carries the negative TTL (RFC 2308 3)
    const negative = authority.map((record) => (record.type === RRType.SOA ? { ...record, ttl: Math.min(record.ttl, record.rdata.readUInt32BE(record.rdata.length - 4)) } : record));
    let ttl: number;
    if (answer.length > 0) ttl = Math.min(...answer.map((record) => record.ttl));
    else ttl = negative.find((record) => record.type === RRType.SOA)?.ttl ?? 0;
    ttl = Math.max(this.config.min_ttl, Math.min(this.config.max_ttl, ttl));
    const writer = new MessageWriter({ compress: false });
    for (const record of [...answer, ...negative]) writer.record(record, keyOf(record.owner) === key ? HEADER_SIZE : undefined);
    const entry: CachedAnswer = { rcode, records: writer.finish().toString('latin1'), answerCount: answer.length, authorityCount: negative.length, storedAt: this.clock.now(), ttl };
    if (ttl > 0) this.entries.set(`${qtype}/${key}`, entry);
    return entry;
  }

  clear(): void {
    this.entries.clear();
  }
}

/** The records of an entry as objects, TTLs reduced by `age` (for the iterative resolver's own use). */
export function cachedRecords(entry: CachedAnswer, key: string, qtype: number, age: number): { answer: ResourceRecord[]; authority: ResourceRecord[] } {
  const writer = new MessageWriter({ compress: false });
  writer.header(0, 0x8000, 1, entry.answerCount, entry.authorityCount, 0);
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
