// cache link: answers clients that may recurse from the resolver's cache, TTLs counted down by the time
// the entry has been held. Stale entries are left to the resolver link (served only when upstreams fail).
import type { DnsHandler, DnsRequest } from '../chain.ts';
import { finishResponse, responseWriter, type ResponseLimits } from '../render.ts';
import { Flag, RRType } from '../wire/constants.ts';
import type { DnsQuery } from '../wire/query.ts';
import type { AnswerCache, CachedAnswer } from '../resolver/cache.ts';

/** RFC 8767 4: stale answers carry a short TTL so clients come back soon. */
export const STALE_TTL = 30;

export function renderCached(query: DnsQuery, entry: CachedAnswer, age: number, stale: boolean, limits: ResponseLimits): Buffer {
  const writer = responseWriter(query);
  const ttlOf = (ttl: number): number => (stale ? STALE_TTL : Math.max(0, ttl - age));
  for (const record of entry.answer) writer.record(record, undefined, ttlOf(record.ttl));
  for (const record of entry.authority) {
    // a negative answer's SOA carries the negative TTL (RFC 2308 3)
    const ttl = record.type === RRType.SOA ? Math.min(record.ttl, record.rdata.readUInt32BE(record.rdata.length - 4)) : record.ttl;
    writer.record(record, undefined, ttlOf(ttl));
  }
  return finishResponse(query, writer, Flag.RA | entry.rcode, [entry.answer.length, entry.authority.length, 0], limits);
}

export function cacheLink(cache: AnswerCache): DnsHandler {
  return {
    name: 'cache',
    handle(request: DnsRequest) {
      if (!request.mayRecurse) return undefined;
      const query = request.query;
      const hit = cache.get(query.key, query.qtype);
      if (hit === undefined || hit.stale) return undefined;
      return renderCached(query, hit.entry, hit.age, false, request.limits);
    },
  };
}
