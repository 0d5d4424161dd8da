// resolver link: names outside our zones for clients that may recurse. Identical questions in flight share
// one upstream resolution (coalescing); the result goes into the cache. With `cache.serve_stale` (RFC 8767)
// an expired entry still in its window answers (TTL 30) when the upstreams fail, or when they have not
// answered within `cache.stale_answer_after` (the client-response timer, §5): the resolution goes on and
// refreshes the cache for the next client. After a failed resolution, a question with a stale entry is
// answered from it at once, without asking upstream again, for FAILURE_RECHECK_MS (§5's failure recheck
// timer): during an outage clients neither wait for the timer nor multiply the upstream queries.
import type { Clock } from '../../core/index.ts';
import type { DnsHandler, DnsRequest } from '../chain.ts';
import type { DnsCounters } from '../engine.ts';
import { renderRcode } from '../render.ts';
import { Rcode } from '../wire/constants.ts';
import { keyToText, wireOfKey } from '../wire/name.ts';
import type { AnswerCache, CachedAnswer } from '../resolver/cache.ts';
import type { Resolver } from '../resolver/index.ts';
import { renderCached } from './cache.ts';

/** Resolves a question upstream into the cache, one resolution per question at a time. */
export type Resolve = (key: string, qtype: number) => Promise<CachedAnswer>;

export function coalescingResolve(resolver: Resolver, cache: AnswerCache): Resolve {
  const inflight = new Map<string, Promise<CachedAnswer>>();
  return (key, qtype) => {
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
}

/** RFC 8767 5: how long after a failed resolution stale answers go out without asking upstream. */
export const FAILURE_RECHECK_MS = 30_000;
/** Failed questions remembered at most (the memory starts over when full: it is only an optimization). */
const MAX_FAILURES = 10_000;

export interface ResolverLinkOptions {
  resolve: Resolve;
  cache: AnswerCache;
  /** Answer from a stale entry after this long without an upstream answer (ms); undefined: never early. */
  staleAnswerAfter: number | undefined;
  clock: Clock;
  counters: DnsCounters;
}

export function resolverLink({ resolve, cache, staleAnswerAfter, clock, counters }: ResolverLinkOptions): DnsHandler {
  /** The stale entry's answer (counted), else SERVFAIL. */
  const fallback = (request: DnsRequest): Buffer => {
    const hit = cache.get(request.query.key, request.query.qtype);
    if (hit === undefined) return renderRcode(request.query, Rcode.SERVFAIL, request.limits);
    counters.stale_answers++;
    return renderCached(request.query, hit.entry, hit.age, true, request.limits);
  };
  /** Questions (`qtype/key`) whose last resolution failed, with when (monotonic ms). */
  const failedAt = new Map<string, number>();
  return {
    name: 'resolver',
    handle(request: DnsRequest) {
      if (!request.mayRecurse) return undefined;
      const query = request.query;
      const hasStale = staleAnswerAfter !== undefined && cache.get(query.key, query.qtype)?.stale === true;
      const id = `${query.qtype}/${query.key}`;
      if (hasStale) {
        const failed = failedAt.get(id);
        if (failed !== undefined && clock.monotonic() - failed < FAILURE_RECHECK_MS) return fallback(request);
      }
      // undefined: the upstreams failed
      const resolution = resolve(query.key, query.qtype).then(
        (entry) => {
          failedAt.delete(id);
          return renderCached(query, entry, 0, false, request.limits);
        },
        () => {
          if (staleAnswerAfter !== undefined) {
            if (failedAt.size >= MAX_FAILURES) failedAt.clear();
            failedAt.set(id, clock.monotonic());
          }
          return undefined;
        },
      );
      // only a question with a stale entry to fall back on races the client-response timer
      if (!hasStale) return resolution.then((answer) => answer ?? fallback(request));
      return new Promise<Buffer>((settle) => {
        let answered = false;
        const timer = clock.setTimeout(() => {
          answered = true;
          settle(fallback(request));
        }, staleAnswerAfter);
        void resolution.then((answer) => {
          clock.clearTimeout(timer);
          if (!answered) settle(answer ?? fallback(request));
        });
      });
    },
  };
}
