// Prometheus metrics of the edge, rendered by the primary (control plane): `switchyard_<component>_<name>_<unit>`.
// Only this process loads prom-client. At scrape time each traffic plane (every worker, or the in-process one
// with `workers: 0`) hands over a TrafficMetrics snapshot of plain numbers — its request counters
// (request-counters.ts) and its pools' status — and the series below are computed from their sum.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { durationBuckets, type RequestSeries, type TrafficMetrics } from './request-counters.ts';

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
    // prom-client's Histogram can only observe(); the buckets counted in the workers are rendered directly.
    this.registry.registerMetric({
      name: durationName,
      help: 'Time from request head received to response done',
      type: 'histogram',
      aggregator: 'sum',
      get: async () => ({ name: durationName, help: 'Time from request head received to response done', type: 'histogram', aggregator: 'sum', values: this.durationValues() }),
    } as never);
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
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(planes: TrafficMetrics[]): Promise<string> {
    this.planes = planes;
    try {
      return await this.registry.metrics();
    } finally {
      this.planes = [];
    }
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
    const byRoute = this.mergedRequests((series) => `${series.listener}\0${series.route}`);
    const values: MetricValue[] = [];
    for (const series of byRoute) {
      const labels = { listener: series.listener, route: series.route };
      let count = 0;
      durationBuckets.forEach((bound, index) => {
        count += series.buckets[index];
        values.push({ labels: { le: bound, ...labels }, value: count, metricName: `${durationName}_bucket` });
      });
      count += series.buckets[durationBuckets.length];
      values.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: `${durationName}_bucket` });
      values.push({ labels, value: series.sum, metricName: `${durationName}_sum` });
      values.push({ labels, value: count, metricName: `${durationName}_count` });
    }
    return values;
  }
}
