// Assembling the chain for a config: acl → acme challenges → authority → pool answers → client limit → cache → resolver.
// The cache sits after the authority, unlike CoreDNS: our own zones are precomputed and authoritative, so
// a cache lookup first would only cost time on the hot path and could never hit for them.
import type { Clock, Logger } from '../core/index.ts';
import type { DnsConfig, ResolverConfig } from '../config/index.ts';
import { STALE_ANSWER_AFTER_DEFAULT } from '../core/index.ts';
import type { DnsHandler } from './chain.ts';
import type { DnsCounters } from './engine.ts';
import { aclLink } from './plugins/acl.ts';
import { authorityLink } from './plugins/authority.ts';
import { acmeChallengeLink, type ChallengeTxtSource } from './plugins/acme-challenge.ts';
import { cacheLink } from './plugins/cache.ts';
import { clientLimitLink } from './plugins/client-limit.ts';
import { poolAnswersLink, type PoolAddressSource } from './plugins/pool-answers.ts';
import { coalescingResolve, resolverLink } from './plugins/resolver.ts';
import { ResponseRateLimiter } from './rate-limit.ts';
import { createResolver, type Resolver } from './resolver/index.ts';
import { AnswerCache } from './resolver/cache.ts';
import type { ZoneSet } from './zone/zone-set.ts';

export interface ResolverStatus {
  cache_entries: number;
  cache_bytes: number;
  upstream_queries: number;
  /** Histogram of upstream answer times: counts per bucket (not cumulative; the last is +Inf) and their sum. */
  upstream_latency_seconds: { bounds: readonly number[]; counts: number[]; sum: number };
}

/** Resolver state that survives reloads as long as `dns.resolver` stays the same (the cache stays warm). */
export class ResolverState {
  readonly key: string;
  readonly config: ResolverConfig;
  readonly cache: AnswerCache;
  readonly resolver: Resolver;
  readonly clock: Clock;
  /** Per client address (`client_limit`; exact addresses, no slip). */
  readonly clientLimiter: ResponseRateLimiter | undefined;

  private constructor(key: string, config: ResolverConfig, cache: AnswerCache, resolver: Resolver, clock: Clock) {
    this.key = key;
    this.config = config;
    this.cache = cache;
    this.resolver = resolver;
    this.clock = clock;
    const limit = config.client_limit;
    this.clientLimiter = limit ? new ResponseRateLimiter({ responses_per_second: limit.queries_per_second, slip: 0, ipv4_prefix: 32, ipv6_prefix: 128 }, clock) : undefined;
  }

  static async create(config: ResolverConfig, key: string, baseDir: string, clock: Clock, logger: Logger): Promise<ResolverState> {
    const cache = new AnswerCache(config.cache, clock);
    const resolver = await createResolver(config, { baseDir, clock, logger, cache });
    return new ResolverState(key, config, cache, resolver, clock);
  }

  status(): ResolverStatus {
    return { cache_entries: this.cache.size, cache_bytes: this.cache.bytes, upstream_queries: this.resolver.upstreamQueries, upstream_latency_seconds: this.resolver.upstreamLatency.snapshot() };
  }

  close(): void {
    this.resolver.close();
  }
}

export function buildHandlers(config: DnsConfig, zones: ZoneSet, resolver: ResolverState | undefined, pools: PoolAddressSource | undefined, random: () => number, counters: DnsCounters, challenges?: ChallengeTxtSource): DnsHandler[] {
  const handlers: DnsHandler[] = [aclLink(config.resolver?.allow ?? []), acmeChallengeLink(challenges, zones), authorityLink(zones), poolAnswersLink(pools, random)];
  if (!resolver) return handlers;
  const { cache, clock } = resolver;
  const cacheConfig = resolver.config.cache;
  const limit = resolver.config.client_limit;
  if (resolver.clientLimiter && limit) handlers.push(clientLimitLink(resolver.clientLimiter, limit.over, counters));
  const resolve = coalescingResolve(resolver.resolver, cache);
  const staleAnswerAfter = cacheConfig.serve_stale === undefined ? undefined : (cacheConfig.stale_answer_after ?? STALE_ANSWER_AFTER_DEFAULT);
  handlers.push(cacheLink(cache, { hits: cacheConfig.prefetch_hits, resolve, counters }), resolverLink({ resolve, cache, staleAnswerAfter, clock, counters }));
  return handlers;
}
