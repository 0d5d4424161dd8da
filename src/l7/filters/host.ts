// The per-process home of the filters: the registry they are built from, the services they share across
// routes, listeners and reloads (one Redis client per URL, the response cache, the local rate-limit
// table), and their counters. A worker holds one (the traffic plane makes it); each listener runtime
// asks it for a FilterEnv. Filters may be built more than once for one route (the HTTP/1.1 runtime and
// the HTTP/2 dispatch each compile the routes, and a reload compiles them again), so state that must be
// one per process lives here, under a key, never in a filter object.
import type { MiddlewareName } from '../../config/index.ts';
import type { FilterEnv, FilterFactory, FilterStats } from './types.ts';
import { filterDurationBuckets as durationBuckets } from '../../core/index.ts';

/** What FilterHost.snapshot() reports per (filter, event): counts and a duration histogram. */
export interface FilterEventSeries {
  filter: string;
  event: string;
  count: number;
  /** Per bucket (not cumulative) over durationBuckets, the last entry for +Inf; empty when never observed. */
  buckets: number[];
  sum: number;
}

interface Closable {
  close(): unknown;
}

export interface FilterHostOptions {
  registry: ReadonlyMap<string, FilterFactory>;
  /** Milliseconds, monotonic. */
  now?: () => number;
  warn?: (message: string, fields?: Record<string, unknown>) => void;
}

export class FilterHost {
  readonly registry: ReadonlyMap<string, FilterFactory>;
  private readonly now: () => number;
  private readonly warn: (message: string, fields?: Record<string, unknown>) => void;
  private readonly services = new Map<string, unknown>();
  private readonly series = new Map<string, FilterEventSeries>();
  private readonly statsByFilter = new Map<string, FilterStats>();

  constructor(options: FilterHostOptions) {
    this.registry = options.registry;
    this.now = options.now ?? (() => performance.now());
    this.warn = options.warn ?? (() => {});
  }

  /** The env the filters of one listener runtime are built with; `scope`: the listener's name. */
  env(baseDir: string, dataDir: string, scope = ''): FilterEnv {
    return {
      now: this.now,
      baseDir,
      dataDir,
      scope,
      shared: <T>(key: string, make: () => T): T => {
        if (this.services.has(key)) return this.services.get(key) as T;
        const made = make();
        this.services.set(key, made);
        return made;
      },
      warn: this.warn,
      stats: (filter) => this.stats(filter),
    };
  }

  /** The counters of one filter name (one object per name, built on first use). */
  stats(filter: MiddlewareName): FilterStats {
    let stats = this.statsByFilter.get(filter);
    if (stats !== undefined) return stats;
    // found by the event name alone (a literal whose hash is cached): counting on the request path builds no key string
    const own = new Map<string, FilterEventSeries>();
    const seriesOf = (event: string): FilterEventSeries => {
      let series = own.get(event);
      if (series !== undefined) return series;
      const key = `${filter}\0${event}`;
      series = this.series.get(key);
      if (series === undefined) this.series.set(key, (series = { filter, event, count: 0, buckets: [], sum: 0 }));
      own.set(event, series);
      return series;
    };
    stats = {
      count(event, n = 1) {
        seriesOf(event).count += n;
      },
      observe(event, seconds) {
        const series = seriesOf(event);
        if (series.buckets.length === 0) series.buckets = new Array<number>(durationBuckets.length + 1).fill(0);
        let bucket = 0;
        while (bucket < durationBuckets.length && seconds > durationBuckets[bucket]) bucket++;
        series.buckets[bucket]++;
        series.sum += seconds;
      },
    };
    this.statsByFilter.set(filter, stats);
    return stats;
  }

  /** The live series (the caller copies them: IPC serialises). */
  snapshot(): FilterEventSeries[] {
    return [...this.series.values()];
  }

  /** Closes every shared service that has close() (at shutdown). */
  async close(): Promise<void> {
    const services = [...this.services.values()];
    this.services.clear();
    await Promise.allSettled(services.map((service) => (typeof (service as Closable)?.close === 'function' ? (service as Closable).close() : undefined)));
  }
}
