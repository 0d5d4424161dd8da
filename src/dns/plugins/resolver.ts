// resolver link: names outside our zones for clients that may recurse. Identical questions in flight share
// one upstream resolution (coalescing); the result goes into the cache; when upstreams fail, a stale
// entry within the serve-stale window answers instead of SERVFAIL (RFC 8767).
import type { DnsHandler, DnsRequest } from '../chain.ts';
import { renderRcode } from '../render.ts';
import { Rcode } from '../wire/constants.ts';
import { keyToText, wireOfKey } from '../wire/name.ts';
import type { AnswerCache, CachedAnswer } from '../resolver/cache.ts';
import type { Resolver } from '../resolver/index.ts';
import { renderCached } from './cache.ts';

export function resolverLink(resolver: Resolver, cache: AnswerCache): DnsHandler {
  const inflight = new Map<string, Promise<CachedAnswer>>();
  const resolve = (key: string, qtype: number): Promise<CachedAnswer> => {
    const id = `${qtype}/${key}`;
    let pending = inflight.get(id);
    if (pending === undefined) {
      pending = resolver
        .resolve(wireOfKey(key), qtype)
        .then((result) => {
          // a failed resolution is not an answer: it must not displace a stale one that could still serve
          if (result.rcode === Rcode.SERVFAIL) throw new Error(`resolver: SERVFAIL for ${keyToText(key)}`);
          return cache.set(key, qtype, result.rcode, result.answer, result.authority);
        })
        .finally(() => inflight.delete(id));
      inflight.set(id, pending);
    }
    return pending;
  };
  return {
    name: 'resolver',
    handle(request: DnsRequest) {
      if (!request.mayRecurse) return undefined;
      const query = request.query;
      return resolve(query.key, query.qtype).then(
        (entry) => renderCached(query, entry, 0, false, request.limits),
        () => {
          const hit = cache.get(query.key, query.qtype);
          if (hit !== undefined) return renderCached(query, hit.entry, hit.age, true, request.limits);
          return renderRcode(query, Rcode.SERVFAIL, request.limits);
        },
      );
    },
  };
}
