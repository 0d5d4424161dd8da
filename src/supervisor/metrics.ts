// Prometheus metrics of the edge, rendered by the primary (control plane): `switchyard_<component>_<name>_<unit>`.
// Only this process loads prom-client. At scrape time each traffic plane (every worker, or the in-process one
// with `workers: 0`) hands over a TrafficMetrics snapshot of plain numbers — its request counters
// (request-counters.ts), its listeners' and pools' status — and the series below are computed from their sum.
// The primary adds its own components' status (DNS, health checks): PrimaryMetrics. Every component keeps
// plain integer counters bumped in place; nothing here runs per request.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { DnsStatus } from '../dns/index.ts';
import type { HealthCheckStatus } from '../health/index.ts';
import { durationBuckets, type RequestSeries, type TrafficMetrics } from './request-counters.ts';
import { filterDurationBuckets } from '../core/index.ts';

/** What the primary itself contributes to a scrape. */
export interface PrimaryMetrics {
  dns: DnsStatus | undefined;
  health: HealthCheckStatus[];
}

type Labels = Record<string, string>;
type Sample = [Labels, number];

/** The counters a listener's status() carries (l4 tcp, l7 http, h2/https with its http1 and tls parts). */
interface ListenerView {
  accepted?: number;
  pool?: string;
  connect_failures?: number;
  no_backend?: number;
  bytes_in?: number;
  bytes_out?: number;
  /** A datagram gate (udp listeners) counts only refused_access. */
  filter?: { refused_max_connections?: number; refused_access: number; proxy_header_errors?: number };
  /** udp listeners: client flows. */
  flows?: number;
  flows_opened?: number;
  flows_expired?: number;
  flows_evicted?: number;
  failovers?: number;
  datagrams_in?: number;
  datagrams_out?: number;
  dropped_no_backend?: number;
  retries?: Record<string, { retries: number; budget_exhausted: number }>;
  http1?: ListenerView;
  tls?: { handshakes?: Record<string, { full: number; resumed: number }> };
}

const statusClass = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];
const durationName = 'switchyard_http_request_duration_seconds';

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

export class Metrics {
  readonly registry = new Registry();
  /** The snapshots the current scrape renders; set by render() just before the registry collects. */
  private planes: TrafficMetrics[] = [];
  private primary: PrimaryMetrics = { dns: undefined, health: [] };

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_process_' });
    const requests = new Counter({
      name: 'switchyard_http_requests_total',
      help: 'HTTP requests answered, by listener, route, pool and status class',
      labelNames: ['listener', 'route', 'pool', 'code'],
      registers: [this.registry],
      collect: () => {
        requests.reset();
        for (const series of this.mergedRequests()) {
          series.byClass.forEach((count, index) => {
            if (count > 0) requests.inc({ listener: series.listener, route: series.route, pool: series.pool, code: statusClass[index] }, count);
          });
        }
      },
    });
    this.histogram(durationName, 'Time from request head received to response done', () => this.durationValues());
    const backendUp = new Gauge({
      name: 'switchyard_pool_backend_usable',
      help: '1 when the backend gets new requests, 0 when unhealthy, ejected or draining',
      labelNames: ['pool', 'backend', 'state'],
      registers: [this.registry],
      collect: () => {
        backendUp.reset();
        // A backend counts as usable when any traffic plane sends it requests (each worker ejects on its own).
        for (const plane of this.planes) {
          for (const pool of plane.pools) {
            for (const backend of pool.backends) {
              const labels = { pool: pool.name, backend: backend.id, state: backend.state };
              if (backend.state === 'healthy') backendUp.set(labels, 1);
              else backendUp.inc(labels, 0);
            }
          }
        }
      },
    });
    const inflight = new Gauge({
      name: 'switchyard_pool_backend_inflight_requests',
      help: 'Requests in flight to the backend, summed over workers',
      labelNames: ['pool', 'backend'],
      registers: [this.registry],
      collect: () => {
        inflight.reset();
        for (const plane of this.planes) for (const pool of plane.pools) for (const backend of pool.backends) inflight.inc({ pool: pool.name, backend: backend.id }, backend.inflight);
      },
    });
    const workerRss = new Gauge({
      name: 'switchyard_worker_resident_memory_bytes',
      help: 'Resident memory of each traffic process (the switchyard_process_* series describe the primary)',
      labelNames: ['pid'],
      registers: [this.registry],
      collect: () => {
        workerRss.reset();
        for (const plane of this.planes) workerRss.set({ pid: plane.pid }, plane.rss);
      },
    });
    const workerMemory = new Gauge({
      name: 'switchyard_worker_memory_bytes',
      help: "Where each traffic process's memory is: V8 heap used and committed (heap_used, heap_total), native memory tied to JavaScript objects (external, array_buffers of it)",
      labelNames: ['pid', 'kind'],
      registers: [this.registry],
      collect: () => {
        workerMemory.reset();
        for (const plane of this.planes) {
          const memory = plane.memory;
          workerMemory.set({ pid: plane.pid, kind: 'heap_used' }, memory.heapUsed);
          workerMemory.set({ pid: plane.pid, kind: 'heap_total' }, memory.heapTotal);
          workerMemory.set({ pid: plane.pid, kind: 'external' }, memory.external);
          workerMemory.set({ pid: plane.pid, kind: 'array_buffers' }, memory.arrayBuffers);
        }
      },
    });
    const workerCpu = new Counter({
      name: 'switchyard_worker_cpu_seconds_total',
      help: 'CPU time (user + system) of each traffic process',
      labelNames: ['pid'],
      registers: [this.registry],
      collect: () => {
        workerCpu.reset();
        for (const plane of this.planes) workerCpu.inc({ pid: plane.pid }, plane.cpuSeconds);
      },
    });
    this.defineListenerSeries();
    this.defineComponentSeries();
    this.defineFilterSeries();
  }

  /** Middleware filters (src/l7 filters): events and decision times, summed over workers. */
  private defineFilterSeries(): void {
    const planes = (): TrafficMetrics[] => this.planes;
    this.series('counter', 'switchyard_filter_events_total', 'Middleware filter events by filter and event (e.g. rate_limit limited, cache hit)', ['filter', 'event'], function* () {
      for (const plane of planes()) for (const series of plane.filters ?? []) if (series.count > 0) yield [{ filter: series.filter, event: series.event }, series.count];
    });
    this.histogram('switchyard_filter_duration_seconds', 'Time a middleware filter took to decide, by filter and event (e.g. rate_limit store round trips)', () => {
      const merged = new Map<string, { filter: string; event: string; buckets: number[]; sum: number }>();
      for (const plane of this.planes) {
        for (const series of plane.filters ?? []) {
          if (series.buckets.length === 0) continue;
          const key = `${series.filter}\0${series.event}`;
          const into = merged.get(key);
          if (into === undefined) merged.set(key, { filter: series.filter, event: series.event, buckets: series.buckets.slice(), sum: series.sum });
          else {
            series.buckets.forEach((count, index) => (into.buckets[index] += count));
            into.sum += series.sum;
          }
        }
      }
      const values: MetricValue[] = [];
      for (const series of merged.values()) values.push(...histogramValues('switchyard_filter_duration_seconds', filterDurationBuckets, series.buckets, series.sum, { filter: series.filter, event: series.event }));
      return values;
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(planes: TrafficMetrics[], primary: PrimaryMetrics = { dns: undefined, health: [] }): Promise<string> {
    this.planes = planes;
    this.primary = primary;
    try {
      return await this.registry.metrics();
    } finally {
      this.planes = [];
      this.primary = { dns: undefined, health: [] };
    }
  }

  /** prom-client's Histogram can only observe(); buckets counted elsewhere (workers, the DNS resolver) are rendered directly. */
  private histogram(name: string, help: string, values: () => MetricValue[]): void {
    this.registry.registerMetric({ name, help, type: 'histogram', aggregator: 'sum', get: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: values() }) } as never);
  }

  /** A counter (or gauge) whose samples are computed at scrape time; samples with equal labels add up (workers). */
  private series(kind: 'counter' | 'gauge', name: string, help: string, labelNames: string[], samples: () => Iterable<Sample>): void {
    const Metric = kind === 'counter' ? Counter : Gauge;
    const metric: Counter | Gauge = new Metric({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect: () => {
        metric.reset();
        for (const [labels, value] of samples()) metric.inc(labels, value);
      },
    });
  }

  /** Every listener status of every plane, by name. */
  private *listenerViews(): Iterable<[string, ListenerView]> {
    for (const plane of this.planes) for (const [name, status] of Object.entries(plane.listeners)) yield [name, status as ListenerView];
  }

  private defineListenerSeries(): void {
    const views = (): Iterable<[string, ListenerView]> => this.listenerViews();
    this.series('counter', 'switchyard_listener_refused_connections_total', 'Connections the listener filters closed, by reason (max_connections, access, proxy_header)', ['listener', 'reason'], function* () {
      for (const [listener, view] of views()) {
        const filter = view.filter ?? view.http1?.filter;
        if (!filter) continue;
        if (filter.refused_max_connections !== undefined) yield [{ listener, reason: 'max_connections' }, filter.refused_max_connections];
        yield [{ listener, reason: 'access' }, filter.refused_access];
        if (filter.proxy_header_errors !== undefined) yield [{ listener, reason: 'proxy_header' }, filter.proxy_header_errors];
      }
    });
    const l4 = (field: 'accepted' | 'connect_failures' | 'no_backend' | 'bytes_in' | 'bytes_out') =>
      function* (): Iterable<Sample> {
        for (const [listener, view] of views()) if (view.connect_failures !== undefined) yield [{ listener, pool: view.pool ?? '' }, view[field] ?? 0];
      };
    this.series('counter', 'switchyard_l4_connections_total', 'TCP connections accepted by L4 listeners', ['listener', 'pool'], l4('accepted'));
    this.series('counter', 'switchyard_l4_connect_failures_total', 'Upstream connects that failed or timed out (each try)', ['listener', 'pool'], l4('connect_failures'));
    this.series('counter', 'switchyard_l4_no_backend_connections_total', 'Connections closed because no backend was usable', ['listener', 'pool'], l4('no_backend'));
    this.series('counter', 'switchyard_l4_received_bytes_total', 'Bytes read from clients of L4 listeners (counted when a tunnel closes)', ['listener', 'pool'], l4('bytes_in'));
    this.series('counter', 'switchyard_l4_sent_bytes_total', 'Bytes written to clients of L4 listeners (counted when a tunnel closes)', ['listener', 'pool'], l4('bytes_out'));
    type UdpField = 'flows' | 'flows_opened' | 'flows_expired' | 'flows_evicted' | 'failovers' | 'datagrams_in' | 'datagrams_out' | 'dropped_no_backend';
    const udp = (field: UdpField) =>
      function* (): Iterable<Sample> {
        for (const [listener, view] of views()) if (view.flows_opened !== undefined) yield [{ listener, pool: view.pool ?? '' }, view[field] ?? 0];
      };
    this.series('gauge', 'switchyard_l4_udp_flows', 'Client flows open on UDP listeners (summed over workers)', ['listener', 'pool'], udp('flows'));
    this.series('counter', 'switchyard_l4_udp_flows_total', 'Client flows opened on UDP listeners', ['listener', 'pool'], udp('flows_opened'));
    this.series('counter', 'switchyard_l4_udp_flows_expired_total', 'UDP flows ended by udp_idle', ['listener', 'pool'], udp('flows_expired'));
    this.series('counter', 'switchyard_l4_udp_flows_evicted_total', 'UDP flows evicted because max_flows was reached (least recently used first)', ['listener', 'pool'], udp('flows_evicted'));
    this.series('counter', 'switchyard_l4_udp_failovers_total', 'UDP flows moved to another backend because theirs became unusable', ['listener', 'pool'], udp('failovers'));
    this.series('counter', 'switchyard_l4_udp_received_datagrams_total', 'Datagrams received from clients of UDP listeners', ['listener', 'pool'], udp('datagrams_in'));
    this.series('counter', 'switchyard_l4_udp_sent_datagrams_total', 'Datagrams relayed back to clients of UDP listeners', ['listener', 'pool'], udp('datagrams_out'));
    this.series('counter', 'switchyard_l4_udp_no_backend_datagrams_total', 'Datagrams dropped because the pool had no usable backend for a new flow', ['listener', 'pool'], udp('dropped_no_backend'));
    const retries = (field: 'retries' | 'budget_exhausted') =>
      function* (): Iterable<Sample> {
        for (const [, view] of views()) for (const [pool, counts] of Object.entries((view.http1 ?? view).retries ?? {})) yield [{ pool }, counts[field]];
      };
    this.series('counter', 'switchyard_http_retries_total', 'Requests sent again to another backend', ['pool'], retries('retries'));
    this.series('counter', 'switchyard_http_retry_budget_exhausted_total', 'Retries refused because the pool\'s retry budget was spent', ['pool'], retries('budget_exhausted'));
    const handshakes = (resumedOnly: boolean) =>
      function* (): Iterable<Sample> {
        for (const [listener, view] of views()) {
          for (const [version, counts] of Object.entries(view.tls?.handshakes ?? {})) yield [{ listener, version }, resumedOnly ? counts.resumed : counts.full + counts.resumed];
        }
      };
    this.series('counter', 'switchyard_tls_handshakes_total', 'TLS handshakes completed, full and resumed, by protocol version', ['listener', 'version'], handshakes(false));
    this.series('counter', 'switchyard_tls_resumptions_total', 'TLS handshakes that resumed a session (ticket or id), by protocol version', ['listener', 'version'], handshakes(true));
  }

  private defineComponentSeries(): void {
    const planes = (): TrafficMetrics[] => this.planes;
    const primary = (): PrimaryMetrics => this.primary;
    this.series('counter', 'switchyard_pool_ejections_total', 'Passive outlier ejections, summed over workers (each ejects on its own)', ['pool', 'backend'], function* () {
      for (const plane of planes()) for (const pool of plane.pools) for (const backend of pool.backends) yield [{ pool: pool.name, backend: backend.id }, backend.ejections];
    });
    this.series('counter', 'switchyard_health_transitions_total', 'Active health check transitions, by direction (up, down)', ['pool', 'backend', 'direction'], function* () {
      for (const check of primary().health) {
        for (const backend of check.backends) {
          yield [{ pool: check.pool, backend: backend.id, direction: 'up' }, backend.transitions.up];
          yield [{ pool: check.pool, backend: backend.id, direction: 'down' }, backend.transitions.down];
        }
      }
    });
    const dns = (): DnsStatus | undefined => primary().dns;
    const byTransport = (pick: (status: DnsStatus) => Record<'udp' | 'tcp', Record<string, number>>, label: string) =>
      function* (): Iterable<Sample> {
        const status = dns();
        if (!status) return;
        for (const [transport, counts] of Object.entries(pick(status))) for (const [key, count] of Object.entries(counts)) yield [{ transport, [label]: key }, count];
      };
    this.series('counter', 'switchyard_dns_queries_total', 'DNS queries parsed, by transport (udp; tcp: TCP, DNS over TLS and DNS over HTTPS) and type', ['transport', 'type'], byTransport((status) => status.queries_by_type, 'type'));
    this.series('counter', 'switchyard_dns_responses_total', 'DNS responses, by transport and rcode', ['transport', 'rcode'], byTransport((status) => status.responses_by_rcode, 'rcode'));
    this.series('counter', 'switchyard_dns_rate_limited_responses_total', 'UDP responses over the response rate limit (dropped or slipped)', [], function* () {
      const status = dns();
      if (status) yield [{}, status.counters.rate_limited];
    });
    this.series('gauge', 'switchyard_dns_resolver_cache_entries', 'Answers in the resolver cache', [], function* () {
      const resolver = dns()?.resolver;
      if (resolver) yield [{}, resolver.cache_entries];
    });
    this.series('counter', 'switchyard_dns_resolver_cache_lookups_total', 'Resolver cache lookups by result (hit: answered fresh from the cache; miss)', ['result'], function* () {
      const status = dns();
      if (!status?.resolver) return;
      yield [{ result: 'hit' }, status.counters.cache_hits];
      yield [{ result: 'miss' }, status.counters.cache_misses];
    });
    this.series('gauge', 'switchyard_dns_resolver_cache_hit_ratio', 'Share of resolver cache lookups answered from the cache since start', [], function* () {
      const status = dns();
      if (!status?.resolver) return;
      const lookups = status.counters.cache_hits + status.counters.cache_misses;
      yield [{}, lookups === 0 ? 0 : status.counters.cache_hits / lookups];
    });
    const latencyName = 'switchyard_dns_resolver_upstream_latency_seconds';
    this.histogram(latencyName, 'Time to an answer of each resolver query sent upstream (answered ones)', () => {
      const latency = dns()?.resolver?.upstream_latency_seconds;
      return latency ? histogramValues(latencyName, latency.bounds, latency.counts, latency.sum, {}) : [];
    });
    this.series('counter', 'switchyard_dns_resolver_upstream_queries_total', 'Queries the resolver sent upstream', [], function* () {
      const resolver = dns()?.resolver;
      if (resolver) yield [{}, resolver.upstream_queries];
    });
  }

  /** The request series of every plane, summed per key: (listener, route, pool) unless `keyOf` says otherwise. */
  private mergedRequests(keyOf = (series: RequestSeries) => `${series.listener}\0${series.route}\0${series.pool}`): RequestSeries[] {
    const merged = new Map<string, RequestSeries>();
    for (const plane of this.planes) {
      for (const series of plane.requests) {
        const key = keyOf(series);
        const into = merged.get(key);
        if (!into) {
          merged.set(key, { ...series, byClass: [...series.byClass], buckets: [...series.buckets] });
          continue;
        }
        series.byClass.forEach((count, index) => (into.byClass[index] += count));
        series.buckets.forEach((count, index) => (into.buckets[index] += count));
        into.sum += series.sum;
      }
    }
    return [...merged.values()];
  }

  /** The histogram is labelled by (listener, route): pools of the same route add up. */
  private durationValues(): MetricValue[] {
    const values: MetricValue[] = [];
    for (const series of this.mergedRequests((series) => `${series.listener}\0${series.route}`)) {
      values.push(...histogramValues(durationName, durationBuckets, series.buckets, series.sum, { listener: series.listener, route: series.route }));
    }
    return values;
  }
}

/** Prometheus histogram samples from per-bucket (not cumulative) counts; `counts` has bounds.length + 1 entries. */
function histogramValues(name: string, bounds: readonly number[], counts: readonly number[], sum: number, labels: Record<string, string>): MetricValue[] {
  const values: MetricValue[] = [];
  let count = 0;
  bounds.forEach((bound, index) => {
    count += counts[index];
    values.push({ labels: { le: bound, ...labels }, value: count, metricName: `${name}_bucket` });
  });
  count += counts[bounds.length];
  values.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: `${name}_bucket` });
  values.push({ labels, value: sum, metricName: `${name}_sum` });
  values.push({ labels, value: count, metricName: `${name}_count` });
  return values;
}
