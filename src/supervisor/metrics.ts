// Prometheus metrics of one process: `switchyard_<component>_<name>_<unit>`. Pool gauges are read from
// the pools' status() at scrape time (nothing on the hot path); request counters are fed by the listeners'
// onRequestDone hook with precomputed label sets.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolRegistry } from '../pool/index.ts';

export interface RequestRecord {
  listener: string;
  route: string;
  pool: string;
  status: number;
  /** Seconds from accept of the request to the last byte sent. */
  durationSeconds: number;
}

const statusClass = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** The metric children of one (listener, route, pool): looked up once, then reused by every request. */
interface RouteSeries {
  byClass: (Counter.Internal | undefined)[];
  duration: Histogram.Internal<'listener' | 'route'>;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'listener' | 'route' | 'pool' | 'code'>;
  private readonly duration: Histogram<'listener' | 'route'>;
  private readonly backendUp: Gauge<'pool' | 'backend' | 'state'>;
  private readonly backendInflight: Gauge<'pool' | 'backend'>;
  private pools: PoolRegistry | undefined;
  /** listener → route → pool → series; label strings come from the compiled config, so this stays small. */
  private readonly series = new Map<string, Map<string, Map<string, RouteSeries>>>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_process_' });
    this.requests = new Counter({ name: 'switchyard_http_requests_total', help: 'HTTP requests answered, by listener, route, pool and status class', labelNames: ['listener', 'route', 'pool', 'code'], registers: [this.registry] });
    this.duration = new Histogram({
      name: 'switchyard_http_request_duration_seconds',
      help: 'Time from request head received to response done',
      labelNames: ['listener', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.backendUp = new Gauge({
      name: 'switchyard_pool_backend_usable',
      help: '1 when the backend gets new requests, 0 when unhealthy, ejected or draining',
      labelNames: ['pool', 'backend', 'state'],
      registers: [this.registry],
      collect: () => this.collectPools(),
    });
    this.backendInflight = new Gauge({ name: 'switchyard_pool_backend_inflight_requests', help: 'Requests in flight to the backend', labelNames: ['pool', 'backend'], registers: [this.registry] });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Hot path: three map lookups, one increment, one observation. prom-client's labels() hashes its label
   * values on every call, so the children are cached per (listener, route, pool) and status class.
   */
  requestDone(record: RequestRecord): void {
    let routes = this.series.get(record.listener);
    if (routes === undefined) this.series.set(record.listener, (routes = new Map()));
    let pools = routes.get(record.route);
    if (pools === undefined) routes.set(record.route, (pools = new Map()));
    let series = pools.get(record.pool);
    if (series === undefined) {
      series = { byClass: [], duration: this.duration.labels(record.listener, record.route) };
      pools.set(record.pool, series);
    }
    const index = (record.status / 100) | 0;
    let counter = series.byClass[index];
    if (counter === undefined) series.byClass[index] = counter = this.requests.labels(record.listener, record.route, record.pool, statusClass[index] ?? '0xx');
    counter.inc();
    series.duration.observe(record.durationSeconds);
  }

  async render(pools: PoolRegistry | undefined): Promise<string> {
    this.pools = pools;
    return this.registry.metrics();
  }

  private collectPools(): void {
    this.backendUp.reset();
    this.backendInflight.reset();
    for (const pool of this.pools?.status() ?? []) {
      for (const backend of pool.backends) {
        this.backendUp.labels(pool.name, backend.id, backend.state).set(backend.state === 'healthy' ? 1 : 0);
        this.backendInflight.labels(pool.name, backend.id).set(backend.inflight);
      }
    }
  }
}
