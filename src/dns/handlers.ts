// Assembling the chain for a config: acl → authority → pool answers → cache → resolver.
// The cache sits after the authority, unlike CoreDNS: our own zones are precomputed and authoritative, so
// a cache lookup first would only cost time on the hot path and could never hit for them.
import type { Clock, Logger } from '../core/index.ts';
import type { DnsConfig, ResolverConfig } from '../config/index.ts';
import type { DnsHandler } from './chain.ts';
import { aclLink } from './plugins/acl.ts';
import { authorityLink } from './plugins/authority.ts';
import { cacheLink } from './plugins/cache.ts';
import { poolAnswersLink, type PoolAddressSource } from './plugins/pool-answers.ts';
import { resolverLink } from './plugins/resolver.ts';
import { createResolver, type Resolver } from './resolver/index.ts';
import { AnswerCache } from './resolver/cache.ts';
import type { ZoneSet } from './zone/zone-set.ts';

/** Resolver state that survives reloads as long as `dns.resolver` stays the same (the cache stays warm). */
export class ResolverState {
  readonly key: string;
  readonly config: ResolverConfig;
  readonly cache: AnswerCache;
  readonly resolver: Resolver;

  private constructor(key: string, config: ResolverConfig, cache: AnswerCache, resolver: Resolver) {
    this.key = key;
    this.config = config;
    this.cache = cache;
    this.resolver = resolver;
  }

  static async create(config: ResolverConfig, key: string, baseDir: string, clock: Clock, logger: Logger): Promise<ResolverState> {
    const cache = new AnswerCache(config.cache, clock);
    const resolver = await createResolver(config, { baseDir, clock, logger, cache });
    return new ResolverState(key, config, cache, resolver);
  }

  status(): { cache_entries: number; upstream_queries: number } {
    return { cache_entries: this.cache.size, upstream_queries: this.resolver.upstreamQueries };
  }

  close(): void {
    this.resolver.close();
  }
}

export function buildHandlers(config: DnsConfig, zones: ZoneSet, resolver: ResolverState | undefined, pools: PoolAddressSource | undefined, random: () => number): DnsHandler[] {
  const handlers: DnsHandler[] = [aclLink(config.resolver?.allow ?? []), authorityLink(zones), poolAnswersLink(pools, random)];
  if (resolver) handlers.push(cacheLink(resolver.cache), resolverLink(resolver.resolver, resolver.cache));
  return handlers;
}
