import { test } from 'node:test';
import assert from 'node:assert/strict';
import { histogramQuantile, PoolSeries } from './pool-series.ts';
import { HealthTimeline } from './health-timeline.ts';
import { RequestCounters, trafficMetrics, type TrafficMetrics } from './request-counters.ts';
import type { PoolStatus } from '../pool/index.ts';

const snapshot = (counters: RequestCounters): TrafficMetrics => structuredClone(trafficMetrics(counters, undefined));

test('histogramQuantile: interpolated inside the bucket, the last finite bound for +Inf, null when empty', () => {
  const buckets = new Array<number>(13).fill(0);
  assert.equal(histogramQuantile(0.5, buckets), null);
  buckets[1] = 10; // 10 requests in (1 ms, 5 ms]
  assert.equal(histogramQuantile(0.5, buckets), 3);
  assert.equal(histogramQuantile(1, buckets), 5);
  buckets[12] = 10; // and 10 over 10 s
  assert.equal(histogramQuantile(0.99, buckets), 10_000);
});

test('PoolSeries: rate, classes and percentiles from the difference of two snapshots summed over workers', () => {
  const one = new RequestCounters();
  const two = new RequestCounters();
  const series = new PoolSeries(3);
  series.add(0, [snapshot(one), snapshot(two)]);
  assert.deepEqual(series.view(), {}, 'the first sample is the baseline');
  for (let i = 0; i < 30; i++) one.requestDone({ listener: 'web', route: 'r', pool: 'app', status: 200, durationSeconds: 0.003 });
  for (let i = 0; i < 10; i++) two.requestDone({ listener: 'web', route: 'r', pool: 'app', status: 503, durationSeconds: 0.2 });
  two.requestDone({ listener: 'web', route: '', pool: '', status: 404, durationSeconds: 0.001 });
  series.add(5_000, [snapshot(one), snapshot(two)]);
  const [point] = series.view().app;
  assert.equal(point.t, 5_000);
  assert.equal(point.rate, 8, '40 requests in 5 s; the edge-made 404 has no pool');
  assert.deepEqual(point.classes, [0, 6, 0, 0, 2]);
  assert.ok(point.p50! > 1 && point.p50! <= 5, `p50 ${point.p50}`);
  assert.ok(point.p99! > 100 && point.p99! <= 250, `p99 ${point.p99}`);
  assert.deepEqual(Object.keys(series.view()), ['app']);
});

test('PoolSeries: a quiet interval is a zero point, a restarted worker starts a new baseline, old points roll off', () => {
  let counters = new RequestCounters();
  const series = new PoolSeries(3);
  counters.requestDone({ listener: 'web', route: 'r', pool: 'app', status: 200, durationSeconds: 0.01 });
  series.add(0, [snapshot(counters)]);
  series.add(5_000, [snapshot(counters)]);
  assert.deepEqual(series.view().app.map((p) => [p.rate, p.p50]), [[0, null]]);
  counters = new RequestCounters(); // the worker was replaced: its sums start again from zero
  series.add(10_000, [snapshot(counters)]);
  assert.equal(series.view().app.length, 1, 'no point from a negative difference');
  for (const t of [15_000, 20_000, 25_000]) {
    counters.requestDone({ listener: 'web', route: 'r', pool: 'app', status: 200, durationSeconds: 0.01 });
    series.add(t, [snapshot(counters)]);
  }
  assert.deepEqual(series.view().app.map((p) => p.t), [15_000, 20_000, 25_000]);
  assert.deepEqual(series.view(['other']), {}, 'a pool gone after a reload is dropped');
});

test('HealthTimeline: transitions as they come, ejections seen between samples, newest first, bounded', () => {
  const timeline = new HealthTimeline(3);
  const view = (ejections: number, state: string): PoolStatus[] => [{ name: 'app', balance: 'round_robin', usable: 1, backends: [{ id: 'a:1', weight: 1, effective_weight: 1, state: state as 'healthy', inflight: 0, ejections }] }];
  timeline.observe(0, view(2, 'healthy'));
  timeline.health(1, 'app', 'a:1', false, 'connect refused');
  timeline.observe(2, view(3, 'ejected'));
  timeline.observe(3, view(3, 'healthy'));
  assert.deepEqual(
    timeline.view().map((e) => [e.t, e.event]),
    [
      [3, 'returned'],
      [2, 'ejected'],
      [1, 'unhealthy'],
    ],
  );
  timeline.health(4, 'app', 'a:1', true, 'ok');
  assert.equal(timeline.view().length, 3);
  assert.equal(timeline.view()[0].event, 'healthy');
});
