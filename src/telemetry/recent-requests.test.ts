import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessRecord } from '../l7/index.ts';
import { mergeRecent, RecentRequests, RecordSinks, statusMatches } from './recent-requests.ts';

/** A finished request that arrived at monotonic ms `t` and took `ms`. */
function record(path: string, status: number, t: number, ms: number, extra: Partial<AccessRecord> = {}): [AccessRecord, number] {
  const rec = new AccessRecord();
  Object.assign(rec, { requestId: `id-${path}`, method: 'GET', host: 'h', path, status, route: 'r', pool: 'p', backend: '10.0.0.1:80', tStart: t, tArrived: 0, tHead: t + 0.5, tAttempt: t + 1, tConnected: t + 2, tFirstByte: t + ms - 1 }, extra);
  return [rec, t + ms];
}

const ring = (capacity = 100, perSecond = 5) => new RecentRequests({ capacity, perSecond, slowMs: 1000, wallNow: () => 1_700_000_000_000 });

test('under load: every error and every slow request is kept, ordinary ones up to perSecond a second', () => {
  const recent = ring(1000, 5);
  // 200 fast successes, 10 errors and 3 slow ones within one second
  for (let i = 0; i < 200; i++) recent.push(...record(`/ok${i}`, 200, i * 4, 2));
  for (let i = 0; i < 10; i++) recent.push(...record(`/err${i}`, i % 2 === 0 ? 503 : 404, i * 50, 3));
  for (let i = 0; i < 3; i++) recent.push(...record(`/slow${i}`, 200, i * 10, 1500));
  const kept = recent.query();
  assert.equal(kept.filter((r) => r.kept === 'error').length, 10);
  assert.equal(kept.filter((r) => r.kept === 'slow').length, 3);
  const sampled = kept.filter((r) => r.kept === 'sampled').length;
  // the bucket starts full (5) and refills 5/s over the ~1.5 s the pushes span
  assert.ok(sampled >= 5 && sampled <= 13, `sampled ${sampled}`);
  assert.equal(recent.offered, 213);
  assert.equal(recent.skipped, 200 - sampled);
});

test('light load keeps everything; a reason alone makes a request an error (an edge-made or filter answer)', () => {
  const recent = ring(100, 5);
  for (let i = 0; i < 10; i++) recent.push(...record(`/a${i}`, 200, i * 1000, 5));
  recent.push(...record('/blocked', 200, 20_000, 1, { reason: 'waf:sqli' }));
  assert.equal(recent.query().length, 11);
  assert.equal(recent.query({ status: 'error' }).length, 0, 'status filter is by status');
  assert.equal(recent.query().find((r) => r.path === '/blocked')?.kept, 'error');
});

test('a fresh cache hit is ordinary traffic: sampled like other successes, so hits under load do not push errors out', () => {
  const recent = ring(100, 2);
  for (let i = 0; i < 50; i++) recent.push(...record(`/hit${i}`, 200, i * 4, 1, { reason: 'cache:hit' }));
  recent.push(...record('/stale', 200, 300, 1, { reason: 'cache:stale-if-error' }));
  const kept = recent.query();
  assert.equal(kept.filter((r) => r.reason === 'cache:hit' && r.kept === 'error').length, 0);
  assert.ok(kept.filter((r) => r.reason === 'cache:hit').length <= 3, 'hits are sampled');
  assert.equal(kept.find((r) => r.path === '/stale')?.kept, 'error', 'a stale answer (the upstream failed) is an event');
});

test('the head-time verdict decides for ordinary requests: passed over there, not kept at the end; chosen there, kept with its Server-Timing', () => {
  const recent = ring(100, 1);
  assert.equal(recent.detail(200, 3, 0), true, 'the first takes the one token');
  assert.equal(recent.detail(200, 3, 1), false, 'no token left');
  assert.equal(recent.detail(502, 3, 2), true, 'an error is kept anyway');
  assert.equal(recent.detail(200, 1200, 3), true, 'already slow at the head');
  recent.push(...record('/chosen', 200, 0, 5, { detail: 1, upstreamTiming: 'app;dur=3' }));
  recent.push(...record('/passed', 200, 1, 5, { detail: 2 }));
  const kept = recent.query();
  assert.deepEqual(
    kept.map((r) => [r.path, r.serverTiming]),
    [['/chosen', 'app;dur=3']],
  );
});

test('the ring overwrites the oldest; query filters and returns newest first with phases relative to arrival', () => {
  const recent = ring(3, 100);
  recent.push(...record('/1', 200, 0, 10));
  recent.push(...record('/2', 404, 20, 10, { route: '', pool: '', backend: '' }));
  recent.push(...record('/3', 503, 40, 10));
  recent.push(...record('/4', 200, 60, 10, { attempts: 2, tried: new Set(['10.0.0.9:80']) }));
  assert.deepEqual(
    recent.query().map((r) => r.path),
    ['/4', '/3', '/2'],
  );
  assert.deepEqual(
    recent.query({ status: '5xx' }).map((r) => r.path),
    ['/3'],
  );
  assert.deepEqual(
    recent.query({ backend: '10.0.0.1:80', limit: 1 }).map((r) => r.path),
    ['/4'],
  );
  assert.deepEqual(recent.query({ requestId: 'id-/3' }).map((r) => r.path), ['/3'], 'one request by its id');
  assert.deepEqual(recent.query({ requestId: 'id-/none' }), []);
  const four = recent.query()[0];
  assert.deepEqual(four.phases, { tls: -1, arrived: -1, head: 0.5, pick: 1, connected: 2, firstByte: 9, done: 10 });
  assert.deepEqual(four.tried, ['10.0.0.9:80']);
  assert.equal(four.time, 1_700_000_000_000 - 10);
  const two = recent.query({ status: '404' })[0];
  assert.equal(two.route, '');
});

test('a TLS connection\'s first request begins at the accept; filter phases are copied out of the reused array; earlier tries come relative to it', () => {
  const recent = ring(10, 100);
  const names = ['headers', 'cors'];
  // the connection's one array (chain.ts layout: request, upstream head, response, body transform start/end per filter)
  const times = new Float64Array([101, 101.25, 103, 103.25, 108, 108.5, 108.5, 109, 101.25, 101.5, 0, 0, 0, 0, 0, 0]);
  const earlier = [{ backend: '10.0.0.9:80', tPick: 102, tConnected: 0, tFirstByte: 0, tEnd: 102.5, outcome: 'connect_error' }];
  recent.push(...record('/tls', 200, 100, 10, { tAccepted: 95, tTls: 98, tArrived: 99, filterNames: names, filterTimes: times, earlier, attempts: 2, tried: new Set(['10.0.0.9:80']) }));
  times.fill(0); // the next request on the connection reuses it
  const [kept] = recent.query();
  assert.equal(kept.phases.tls, 3);
  assert.equal(kept.phases.arrived, 4);
  assert.equal(kept.phases.head, 5.5);
  assert.equal(kept.phases.done, 15);
  assert.equal(kept.time, 1_700_000_000_000 - 15, 'the wall time of the accept');
  assert.deepEqual(kept.filters, [
    { name: 'headers', request: [6, 6.25], upstream: [8, 8.25], response: [13, 13.5], body: [13.5, 14] },
    { name: 'cors', request: [6.25, 6.5], upstream: null, response: null, body: null },
  ]);
  assert.deepEqual(kept.earlierAttempts, [{ backend: '10.0.0.9:80', pick: 7, connected: -1, firstByte: -1, done: 7.5, outcome: 'connect_error' }]);
  // an HTTP/2 stream's head is its start
  recent.push(...record('/h2', 200, 200, 4, { protocol: 'h2', tHead: 0 }));
  assert.equal(recent.query()[0].phases.head, 0);
});

test('statusMatches: exact, class, error; mergeRecent: newest first over workers, limited', () => {
  assert.ok(statusMatches('404', 404) && !statusMatches('404', 403));
  assert.ok(statusMatches('4xx', 451) && !statusMatches('4xx', 500));
  assert.ok(statusMatches('error', 500) && statusMatches('error', 0) && !statusMatches('error', 302));
  const a = ring();
  const b = ring();
  a.push(...record('/a', 200, 0, 1));
  const later = new RecentRequests({ capacity: 10, perSecond: 10, slowMs: 1000, wallNow: () => 1_700_000_000_500 });
  later.push(...record('/b', 200, 0, 1));
  assert.deepEqual(
    mergeRecent([a.query(), later.query(), b.query()], 5).map((r) => r.path),
    ['/b', '/a'],
  );
});

test('RecordSinks: the span exporter only while active, the ring always', () => {
  const seen: string[] = [];
  const spans = { active: false, push: (rec: AccessRecord) => seen.push(rec.path) };
  const recent = ring();
  const sinks = new RecordSinks(spans, recent);
  sinks.push(...record('/x', 200, 0, 1));
  spans.active = true;
  sinks.push(...record('/y', 200, 10, 1));
  assert.deepEqual(seen, ['/y']);
  assert.equal(recent.query().length, 2);
});

test('wants: the keep decision ahead of the record, with the same sample as push (a token taken once)', () => {
  const recent = ring(100, 2);
  // two ordinary requests take the bucket's two tokens; the record then carries detail 1 and is kept
  for (let i = 0; i < 2; i++) {
    assert.equal(recent.wants(200, '', 0, 0, 10), 1);
    const [rec, end] = record(`/s${i}`, 200, 0, 10, { detail: 1 });
    recent.push(rec, end);
  }
  // the third finds no token: nothing would read its record
  assert.equal(recent.wants(200, '', 0, 0, 10), -1);
  // errors, reasons other than a cache hit and slow requests are always wanted, whatever the bucket holds
  assert.equal(recent.wants(503, '', 0, 0, 10), 0);
  assert.equal(recent.wants(200, 'waf:sqli', 0, 0, 10), 0);
  assert.equal(recent.wants(200, '', 0, 0, 2000), 0);
  assert.equal(recent.wants(200, 'cache:hit', 0, 2, 10), -1, 'a hit passed over at the head');
  assert.deepEqual(recent.query().map((r) => [r.path, r.kept]), [['/s1', 'sampled'], ['/s0', 'sampled']]);
  assert.equal(recent.offered, 4);
  assert.equal(recent.skipped, 2);
});
