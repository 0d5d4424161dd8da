// The DNS status of an edge whose DNS runs in several traffic workers: one status, as if one server had
// answered everything (counters, per-type and per-rcode counts and the resolver's histogram summed; cache
// entries summed too, since each worker keeps its own cache). Type-only imports: the primary merges the
// workers' statuses without loading the DNS component.
import type { DnsStatus, ResolverStatus } from '../dns/index.ts';

/** Undefined when no worker serves DNS. `listening` and `zones` are the first worker's (every worker serves the same). */
export function mergeDnsStatus(statuses: readonly (DnsStatus | undefined)[]): DnsStatus | undefined {
  const present = statuses.filter((status): status is DnsStatus => status !== undefined);
  if (present.length === 0) return undefined;
  const [first, ...rest] = present;
  const merged: DnsStatus = {
    ...first,
    counters: { ...first.counters },
    queries_by_type: { udp: { ...first.queries_by_type.udp }, tcp: { ...first.queries_by_type.tcp } },
    responses_by_rcode: { udp: { ...first.responses_by_rcode.udp }, tcp: { ...first.responses_by_rcode.tcp } },
    resolver: first.resolver && copyResolver(first.resolver),
  };
  for (const status of rest) {
    for (const key of Object.keys(merged.counters) as (keyof DnsStatus['counters'])[]) merged.counters[key] += status.counters[key];
    for (const transport of ['udp', 'tcp'] as const) {
      addCounts(merged.queries_by_type[transport], status.queries_by_type[transport]);
      addCounts(merged.responses_by_rcode[transport], status.responses_by_rcode[transport]);
    }
    merged.tcp_connections += status.tcp_connections;
    if (status.resolver) merged.resolver = merged.resolver ? addResolver(merged.resolver, status.resolver) : copyResolver(status.resolver);
  }
  return merged;
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count;
}

function copyResolver(resolver: ResolverStatus): ResolverStatus {
  const latency = resolver.upstream_latency_seconds;
  return { ...resolver, upstream_latency_seconds: { bounds: latency.bounds, counts: [...latency.counts], sum: latency.sum } };
}

function addResolver(into: ResolverStatus, from: ResolverStatus): ResolverStatus {
  into.cache_entries += from.cache_entries;
  into.cache_bytes += from.cache_bytes;
  into.upstream_queries += from.upstream_queries;
  const latency = into.upstream_latency_seconds;
  from.upstream_latency_seconds.counts.forEach((count, index) => (latency.counts[index] = (latency.counts[index] ?? 0) + count));
  latency.sum += from.upstream_latency_seconds.sum;
  return into;
}
