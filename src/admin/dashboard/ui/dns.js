// The DNS panel (GET /api/dns): zones, queries by type and rcode, the resolver cache, and the addresses
// the pool-backed records answer with now.
import { h } from './render.js';

const table = (heads, rows, attrs) => h('table', attrs ?? null, h('thead', null, h('tr', null, ...heads.map((t) => h('th', null, t)))), h('tbody', null, rows));
const counts = (byKey) =>
  Object.entries(byKey ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${key} ${n}`)
    .join(' · ') || '–';

export function renderDns(dns) {
  if (!dns?.enabled) return [h('p', { class: 'meta' }, 'DNS is not configured (dns: in the config).')];
  const cache = dns.cache;
  return [
    h('p', { class: 'meta' }, `listening ${dns.listening.join(', ')} · ${dns.queries} queries · ${dns.rate_limited} rate-limited`),
    table(['zone', 'serial', 'records', 'source'], dns.zones.map((z) => h('tr', null, h('td', null, z.origin), h('td', null, z.serial), h('td', null, z.records), h('td', null, z.source))), { id: 'dns-zones' }),
    h('p', null, h('strong', null, 'queries by type: '), counts(dns.queries_by_type)),
    h('p', null, h('strong', null, 'responses by rcode: '), counts(dns.responses_by_rcode)),
    h('p', null, h('strong', null, 'resolver cache: '), cache ? `${cache.entries} entries, ${Math.round(cache.bytes / 1024)} KiB, hit ratio ${cache.hit_ratio === null ? '–' : `${Math.round(cache.hit_ratio * 100)} %`} (${cache.hits} hits, ${cache.misses} misses)` : 'no resolver'),
    dns.pool_records.length > 0
      ? table(['record', 'type', 'pool', 'answers now'], dns.pool_records.map((r) => h('tr', { 'data-record': r.name }, h('td', null, r.name), h('td', null, r.type), h('td', null, r.pool), h('td', null, r.answers.join(', ') || '(none healthy)'))), { id: 'dns-pool-records' })
      : '',
  ];
}
