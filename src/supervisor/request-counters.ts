// Request counters of one traffic plane, as plain numbers: the worker side of the metrics. Workers do not
// load prom-client (~20 MB per process); the primary asks for a snapshot at scrape time and turns the sum
// over workers into Prometheus series (metrics.ts).
import type { PoolStatus } from '../pool/index.ts';
import type { FilterEventSeries } from '../l7/index.ts';
import type { DnsStatus } from '../dns/index.ts';

export interface RequestRecord {
  listener: string;
  route: string;
  pool: string;
  status: number;
  /** Seconds from accept of the request to the last byte sent. */
  durationSeconds: number;
}

/** Upper bounds of the duration histogram's buckets, in seconds (a last, implicit one is +Inf). */
export const durationBuckets: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One (listener, route, pool): counts by status class (index = status / 100) and the duration histogram. */
export interface RequestSeries {
  listener: string;
  route: string;
  pool: string;
  /** Six entries: 0xx … 5xx. */
  byClass: number[];
  /** Per bucket (not cumulative); durationBuckets.length + 1 entries, the last one for +Inf. */
  buckets: number[];
  sum: number;
}

export class RequestCounters {
  /** listener → route → pool → series; label strings come from the compiled config, so this stays small. */
  private readonly series = new Map<string, Map<string, Map<string, RequestSeries>>>();

  /** The series of the previous request: consecutive requests mostly share their route (one compare instead of three lookups). */
  private last: RequestSeries | null = null;

  /** Hot path: three map lookups (none when the request is on the previous one's series), a bucket scan of at most 13 comparisons, three increments; no allocation. */
  requestDone(record: RequestRecord): void {
    let series = this.last;
    if (series === null || series.pool !== record.pool || series.route !== record.route || series.listener !== record.listener) {
      let routes = this.series.get(record.listener);
      if (routes === undefined) this.series.set(record.listener, (routes = new Map()));
      let pools = routes.get(record.route);
      if (pools === undefined) routes.set(record.route, (pools = new Map()));
      let found = pools.get(record.pool);
      if (found === undefined) {
        found = { listener: record.listener, route: record.route, pool: record.pool, byClass: [0, 0, 0, 0, 0, 0], buckets: new Array<number>(durationBuckets.length + 1).fill(0), sum: 0 };
        pools.set(record.pool, found);
      }
      series = this.last = found;
    }
    const index = (record.status / 100) | 0;
    series.byClass[index >= 0 && index < 6 ? index : 0]++;
    const seconds = record.durationSeconds;
    let bucket = 0;
    while (bucket < durationBuckets.length && seconds > durationBuckets[bucket]) bucket++;
    series.buckets[bucket]++;
    series.sum += seconds;
  }

  /** The live series (the caller copies them: IPC serialises, in-process scrapes only read). */
  snapshot(): RequestSeries[] {
    const result: RequestSeries[] = [];
    for (const routes of this.series.values()) for (const pools of routes.values()) for (const series of pools.values()) result.push(series);
    return result;
  }
}

/** What one traffic plane reports per scrape: plain data, cloned over IPC. */
export interface TrafficMetrics {
  pid: number;
  requests: RequestSeries[];
  pools: PoolStatus[];
  /** Each listener's status() by name: plain counters (connections, bytes, filter refusals, retries, TLS). */
  listeners: Record<string, unknown>;
  /** Resident set size of the process, bytes. */
  rss: number;
  /** Where that memory is (workerMemory()). */
  memory: WorkerMemory;
  /** CPU time (user + system) of the process, seconds. */
  cpuSeconds: number;
  /** The middleware filters' counters and timings (src/l7 filters). */
  filters: FilterEventSeries[];
  /** The process's DNS server (absent without `dns:`); the primary sums the workers' (dns-status.ts). */
  dns?: DnsStatus;
}

/**
 * Where a worker's memory is, bytes (process.memoryUsage()): heapTotal is what V8 holds for the JavaScript
 * heap, heapUsed the live part of it; external is native memory tied to JavaScript objects (Buffers, with
 * arrayBuffers their part). What rss holds beyond heapTotal and external is code, stacks, and what OpenSSL,
 * libuv and the allocator keep. Read at status and scrape time only.
 */
export interface WorkerMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export function workerMemory(): WorkerMemory {
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external, arrayBuffers };
}

export function trafficMetrics(counters: RequestCounters, plane: { status(): { listeners: Record<string, unknown>; pools: PoolStatus[]; filters?: FilterEventSeries[]; dns?: DnsStatus } } | undefined): TrafficMetrics {
  const cpu = process.cpuUsage();
  const status = plane?.status();
  const memory = workerMemory();
  return { pid: process.pid, requests: counters.snapshot(), pools: status?.pools ?? [], listeners: status?.listeners ?? {}, rss: memory.rss, memory, cpuSeconds: (cpu.user + cpu.system) / 1e6, filters: status?.filters ?? [], dns: status?.dns };
}
