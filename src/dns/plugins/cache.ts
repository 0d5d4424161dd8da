// cache link: answers clients that may recurse from the resolver's cache, TTLs counted down by the time
// the entry has been held. Stale entries are left to the resolver link (served only when upstreams fail
// or are slow). Prefetch: a popular entry (hit more than `prefetch_hits` times) hit in the last tenth of
// its TTL is refreshed in the background, once, so that its clients never wait for the upstream.
import type { DnsHandler, DnsRequest } from '../chain.ts';
import type { DnsCounters } from '../engine.ts';
import { renderTruncated, type ResponseLimits } from '../render.ts';
import { Flag, HEADER_SIZE, OPT_SIZE, RRType } from '../wire/constants.ts';
import type { DnsQuery } from '../wire/query.ts';
import { answerCountOf, authorityCountOf, forEachTtl, PREFETCHED, rcodeOf, type AnswerCache, type CachedAnswer } from '../resolver/cache.ts';
import type { Resolve } from './resolver.ts';

/** RFC 8767 4: stale answers carry a short TTL so clients come back soon. */
export const STALE_TTL = 30;

export function renderCached(query: DnsQuery, entry: CachedAnswer, age: number, stale: boolean, limits: ResponseLimits): Buffer {
  const questionEnd = query.questionEnd;
  const edns = query.ednsVersion >= 0;
  const records = entry.records;
  const total = questionEnd + records.length + (edns ? OPT_SIZE : 0);
  const flags = Flag.RA | rcodeOf(entry);
  const answerCount = answerCountOf(entry);
  const authorityCount = authorityCountOf(entry);
  if (total > limits.max) return renderTruncated(query, flags, limits);
  const out = Buffer.allocUnsafe(total);
  out.writeUInt16BE(query.id, 0);
  out.writeUInt16BE(Flag.QR | (query.flags & (Flag.RD | Flag.CD)) | flags, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(answerCount, 6);
  out.writeUInt16BE(authorityCount, 8);
  out.writeUInt16BE(edns ? 1 : 0, 10);
  query.message.copy(out, HEADER_SIZE, HEADER_SIZE, questionEnd);
  out.write(records, questionEnd, 'latin1');
  forEachTtl(out, questionEnd, answerCount + authorityCount, (offset) => {
    out.writeUInt32BE(stale ? STALE_TTL : Math.max(0, out.readUInt32BE(offset) - age), offset);
  });
  if (edns) {
    const at = total - OPT_SIZE;
    out[at] = 0;
    out.writeUInt16BE(RRType.OPT, at + 1);
    out.writeUInt16BE(limits.advertise, at + 3);
    out.writeUInt32BE(0, at + 5);
    out.writeUInt16BE(0, at + 9);
  }
  return out;
}

export interface PrefetchOptions {
  /** Hits an entry must have had (more than) before it is refreshed; 0: never. */
  hits: number;
  resolve: Resolve;
  counters: DnsCounters;
}

export function cacheLink(cache: AnswerCache, prefetch: PrefetchOptions): DnsHandler {
  const { hits, resolve, counters } = prefetch;
  const ignore = (): void => {};
  return {
    name: 'cache',
    handle(request: DnsRequest) {
      if (!request.mayRecurse) return undefined;
      const query = request.query;
      const hit = cache.get(query.key, query.qtype);
      if (hit === undefined || hit.stale) {
        counters.cache_misses++;
        return undefined;
      }
      counters.cache_hits++;
      const entry = hit.entry;
      if (hits > 0 && entry.hits !== PREFETCHED && ++entry.hits > hits && hit.left * 10 <= entry.ttl * 1000) {
        entry.hits = PREFETCHED;
        counters.prefetches++;
        // a failed refresh leaves the entry to expire (and to serve stale) as it would have
        resolve(query.key, query.qtype).catch(ignore);
      }
      return renderCached(query, entry, hit.age, false, request.limits);
    },
  };
}
