// The dashboard's per-pool charts: a small time series the primary keeps, one point per pool every few
// seconds over the last 15 minutes, computed from the request counters the workers already report for
// /metrics (request-counters.ts): the difference between two snapshots gives the request rate, the
// status classes and, from the duration histogram, latency percentiles. Counters of a worker that was
// replaced start again from zero: a pool whose sums went down starts a new baseline (no point for it).
import { durationBuckets, type TrafficMetrics } from './request-counters.ts';

export interface PoolPoint {
  /** Epoch ms of the sample. */
  t: number;
  /** Requests per second since the previous sample. */
  rate: number;
  /** Requests per second by status class: 1xx … 5xx. */
  classes: [number, number, number, number, number];
  /** Latency percentiles of the requests since the previous sample, ms (null: no request). */
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

interface Totals {
  byClass: number[];
  buckets: number[];
}

/**
 * The q-quantile (0..1) of a bucketed histogram (per-bucket counts, durationBuckets bounds in seconds,
 * the last bucket +Inf), in ms, interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile does; in the +Inf bucket it is the last finite bound.
 */
export function histogramQuantile(q: number, buckets: readonly number[]): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    if (buckets[i] === 0) continue;
    if (seen + buckets[i] >= rank) {
      if (i >= durationBuckets.length) return durationBuckets[durationBuckets.length - 1] * 1000;
      const lower = i === 0 ? 0 : durationBuckets[i - 1];
      const upper = durationBuckets[i];
      return (lower + ((upper - lower) * (rank - seen)) / buckets[i]) * 1000;
    }
    seen += buckets[i];
  }
  return durationBuckets[durationBuckets.length - 1] * 1000;
}

function totalsByPool(snapshots: readonly TrafficMetrics[]): Map<string, Totals> {
  const byPool = new Map<string, Totals>();
  for (const snapshot of snapshots) {
    for (const series of snapshot.requests) {
      if (series.pool === '') continue; // edge-made answers and local routes: no pool to chart them under
      let totals = byPool.get(series.pool);
      if (totals === undefined) byPool.set(series.pool, (totals = { byClass: [0, 0, 0, 0, 0, 0], buckets: new Array<number>(durationBuckets.length + 1).fill(0) }));
      for (let i = 0; i < 6; i++) totals.byClass[i] += series.byClass[i];
      for (let i = 0; i < totals.buckets.length; i++) totals.buckets[i] += series.buckets[i];
    }
  }
  return byPool;
}

export class PoolSeries {
  /** Points kept per pool: 15 minutes at the sampling interval. */
  readonly capacity: number;
  private readonly points = new Map<string, PoolPoint[]>();
  private previous: { t: number; totals: Map<string, Totals> } | undefined;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Adds one point per pool from the workers' snapshots taken at epoch ms `t`. */
  add(t: number, snapshots: readonly TrafficMetrics[]): void {
    const totals = totalsByPool(snapshots);
    const previous = this.previous;
    this.previous = { t, totals };
    if (previous === undefined || t <= previous.t) return;
    const seconds = (t - previous.t) / 1000;
    for (const [pool, now] of totals) {
      const before = previous.totals.get(pool) ?? { byClass: [0, 0, 0, 0, 0, 0], buckets: now.buckets.map(() => 0) };
      const classes = now.byClass.map((n, i) => n - before.byClass[i]);
      const buckets = now.buckets.map((n, i) => n - before.buckets[i]);
      if (classes.some((n) => n < 0) || buckets.some((n) => n < 0)) continue; // a worker restarted: new baseline
      const count = classes.reduce((a, b) => a + b, 0);
      const perSecond = (n: number): number => Math.round((n / seconds) * 100) / 100;
      const point: PoolPoint = {
        t,
        rate: perSecond(count),
        classes: [perSecond(classes[1]), perSecond(classes[2]), perSecond(classes[3]), perSecond(classes[4]), perSecond(classes[5] + classes[0])],
        p50: histogramQuantile(0.5, buckets),
        p90: histogramQuantile(0.9, buckets),
        p99: histogramQuantile(0.99, buckets),
      };
      let list = this.points.get(pool);
      if (list === undefined) this.points.set(pool, (list = []));
      list.push(point);
      if (list.length > this.capacity) list.splice(0, list.length - this.capacity);
    }
  }

  /** Every pool's points, oldest first; pools no longer in `pools` (after a reload) are dropped. */
  view(pools?: readonly string[]): Record<string, PoolPoint[]> {
    if (pools !== undefined) for (const name of this.points.keys()) if (!pools.includes(name)) this.points.delete(name);
    return Object.fromEntries(this.points);
  }
}
