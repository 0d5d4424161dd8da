// The dashboard's DNS panel (GET /api/dns): zones, queries by type and rcode, the resolver cache and what
// the pool-backed records answer right now. All of it is read here, in one function, from what the admin
// status already carries (the DNS server's status()) and from the config and the pools: where the DNS
// figures come from may change (the DNS server moving into the workers) without touching the page.
import type { DnsConfig } from '../config/index.ts';
import type { DnsStatus } from '../dns/index.ts';
import type { HealthyAddress } from '../pool/index.ts';

export interface DnsPanel {
  enabled: boolean;
  listening: string[];
  zones: { origin: string; serial: number; records: number; source: string }[];
  queries: number;
  /** Summed over transports. */
  queries_by_type: Record<string, number>;
  responses_by_rcode: Record<string, number>;
  rate_limited: number;
  cache: { entries: number; bytes: number; hits: number; misses: number; hit_ratio: number | null } | null;
  /** Each `pool:` record of the inline zones and the addresses it answers with now (healthy backends). */
  pool_records: { name: string; type: string; pool: string; answers: string[] }[];
}

function sum(byTransport: Record<string, Record<string, number>> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const counts of Object.values(byTransport ?? {})) for (const [key, n] of Object.entries(counts)) out[key] = (out[key] ?? 0) + n;
  return out;
}

const owner = (name: string, origin: string): string => (name === '@' ? origin : name.endsWith('.') ? name : `${name}.${origin}`);

export function dnsPanel(status: DnsStatus | undefined, config: DnsConfig | undefined, healthy: (pool: string) => HealthyAddress[] | undefined): DnsPanel {
  if (status === undefined || config === undefined) return { enabled: false, listening: [], zones: [], queries: 0, queries_by_type: {}, responses_by_rcode: {}, rate_limited: 0, cache: null, pool_records: [] };
  const { counters, resolver } = status;
  const lookups = counters.cache_hits + counters.cache_misses;
  const poolRecords: DnsPanel['pool_records'] = [];
  for (const zone of config.zones) {
    for (const record of zone.records ?? []) {
      if (record.pool === undefined) continue;
      const family = record.type === 'AAAA' ? ':' : '.';
      const answers = (healthy(record.pool) ?? []).filter((address) => address.host.includes(family)).map((address) => address.host);
      poolRecords.push({ name: owner(record.name, zone.origin), type: record.type, pool: record.pool, answers: [...new Set(answers)] });
    }
  }
  return {
    enabled: true,
    listening: status.listening.map((bound) => `${bound.transport}://${bound.host}:${bound.port}`),
    zones: status.zones,
    queries: counters.queries,
    queries_by_type: sum(status.queries_by_type),
    responses_by_rcode: sum(status.responses_by_rcode),
    rate_limited: counters.rate_limited,
    cache: resolver === undefined ? null : { entries: resolver.cache_entries, bytes: resolver.cache_bytes, hits: counters.cache_hits, misses: counters.cache_misses, hit_ratio: lookups === 0 ? null : counters.cache_hits / lookups },
    pool_records: poolRecords,
  };
}
