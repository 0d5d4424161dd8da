// The primary's metrics from the workers' plain counters: sums over workers, cumulative histogram buckets,
// pool gauges, and the exposition names and labels that dashboards use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from './metrics.ts';
import { RequestCounters, type TrafficMetrics } from './request-counters.ts';

function plane(pid: number, counters: RequestCounters, state: string, inflight: number): TrafficMetrics {
  return {
    pid,
    requests: counters.snapshot(),
    pools: [{ name: 'app', balance: 'round_robin', usable: 1, backends: [{ id: '127.0.0.1:3001', state, inflight } as never] }],
    listeners: { tunnel: { pool: 'app', accepted: 2, connect_failures: 1, no_backend: 0, bytes_in: 10, bytes_out: 20, filter: { refused_max_connections: 1, refused_access: 0, proxy_header_errors: 0 } } },
    rss: 50 * 2 ** 20,
    memory: { rss: 50 * 2 ** 20, heapUsed: 8 * 2 ** 20, heapTotal: 12 * 2 ** 20, external: 2 * 2 ** 20, arrayBuffers: 2 ** 20 },
    cpuSeconds: 1.5,
    filters: [],
  };
}

test('request counters of two workers render as one set of Prometheus series', async () => {
  const one = new RequestCounters();
  const two = new RequestCounters();
  const done = (counters: RequestCounters, status: number, durationSeconds: number, pool = 'app'): void => counters.requestDone({ listener: 'web', route: '#0', pool, status, durationSeconds });
  done(one, 200, 0.0005);
  done(one, 204, 0.003);
  done(one, 503, 0.2, '');
  done(two, 200, 0.001);
  done(two, 404, 20);

  const text = await new Metrics().render([plane(11, one, 'healthy', 2), plane(12, two, 'ejected', 3)]);
  const value = (series: string): number | undefined => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  assert.equal(value('switchyard_http_requests_total{listener="web",route="#0",pool="app",code="2xx"}'), 3);
  assert.equal(value('switchyard_http_requests_total{listener="web",route="#0",pool="app",code="4xx"}'), 1);
  assert.equal(value('switchyard_http_requests_total{listener="web",route="#0",pool="",code="5xx"}'), 1);
  // buckets are cumulative (le is inclusive) and pools of one route add up
  assert.equal(value('switchyard_http_request_duration_seconds_bucket{le="0.001",listener="web",route="#0"}'), 2);
  assert.equal(value('switchyard_http_request_duration_seconds_bucket{le="0.005",listener="web",route="#0"}'), 3);
  assert.equal(value('switchyard_http_request_duration_seconds_bucket{le="0.25",listener="web",route="#0"}'), 4);
  assert.equal(value('switchyard_http_request_duration_seconds_bucket{le="10",listener="web",route="#0"}'), 4);
  assert.equal(value('switchyard_http_request_duration_seconds_bucket{le="+Inf",listener="web",route="#0"}'), 5);
  assert.equal(value('switchyard_http_request_duration_seconds_count{listener="web",route="#0"}'), 5);
  assert.ok(Math.abs(value('switchyard_http_request_duration_seconds_sum{listener="web",route="#0"}')! - 20.2045) < 1e-9);
  assert.match(text, /# TYPE switchyard_http_request_duration_seconds histogram/);
  // usable when any worker sends it requests; in flight summed
  assert.equal(value('switchyard_pool_backend_usable{pool="app",backend="127.0.0.1:3001",state="healthy"}'), 1);
  assert.equal(value('switchyard_pool_backend_usable{pool="app",backend="127.0.0.1:3001",state="ejected"}'), 0);
  assert.equal(value('switchyard_pool_backend_inflight_requests{pool="app",backend="127.0.0.1:3001"}'), 5);
  assert.equal(value('switchyard_worker_resident_memory_bytes{pid="12"}'), 50 * 2 ** 20);
  assert.equal(value('switchyard_worker_memory_bytes{pid="12",kind="heap_total"}'), 12 * 2 ** 20);
  assert.ok(value('switchyard_process_process_resident_memory_bytes')! > 0, "the primary's own process metrics");
});

test('a scrape with no traffic planes renders no request series', async () => {
  const text = await new Metrics().render([]);
  assert.doesNotMatch(text, /^switchyard_http_requests_total\{/m);
  assert.match(text, /# TYPE switchyard_http_requests_total counter/);
});

test('listener counters of two workers add up per listener and pool', async () => {
  const text = await new Metrics().render([plane(1, new RequestCounters(), 'healthy', 0), plane(2, new RequestCounters(), 'healthy', 0)]);
  assert.match(text, /^switchyard_l4_connections_total\{listener="tunnel",pool="app"\} 4$/m);
  assert.match(text, /^switchyard_l4_received_bytes_total\{listener="tunnel",pool="app"\} 20$/m);
  assert.match(text, /^switchyard_l4_connect_failures_total\{listener="tunnel",pool="app"\} 2$/m);
  assert.match(text, /^switchyard_listener_refused_connections_total\{listener="tunnel",reason="max_connections"\} 2$/m);
});
