import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessRecord } from '../l7/index.ts';
import { RequestRing } from './request-ring.ts';
import { sampledTrace, sampleThreshold } from './sampler.ts';
import { encodeExport, unixNano } from './otlp-json.ts';

test('unixNano: epoch milliseconds with a fraction as exact decimal nanoseconds', () => {
  assert.equal(unixNano(1_765_000_000_123.5), '1765000000123500000');
  assert.equal(unixNano(1_765_000_000_000), '1765000000000000000');
  assert.equal(unixNano(5.5), '5500000');
});

test('sampler: ratio keyed on the low 32 bits of the trace id; a continued trace follows its flag', () => {
  const low = '0123456789abcdef0123456700000000';
  const high = '0123456789abcdef01234567ffffffff';
  assert.equal(sampledTrace(low, false, '01', sampleThreshold(0)), false);
  assert.equal(sampledTrace(low, false, '01', sampleThreshold(0.1)), true);
  assert.equal(sampledTrace(high, false, '01', sampleThreshold(0.1)), false);
  assert.equal(sampledTrace(high, false, '01', sampleThreshold(1)), true);
  assert.equal(sampledTrace(high, true, '01', sampleThreshold(0)), true);
  assert.equal(sampledTrace(low, true, '00', sampleThreshold(1)), false);
  assert.equal(sampledTrace(low, true, '03', sampleThreshold(0)), true);
});

function record(path: string): AccessRecord {
  const rec = new AccessRecord();
  Object.assign(rec, { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), method: 'GET', path, host: 'h', client: '127.0.0.1', status: 200, tStart: 10, tHead: 11, tConnected: 12, tFirstByte: 13 });
  return rec;
}

test('ring: full, it overwrites the oldest and counts it; take hands out the oldest first', () => {
  const ring = new RequestRing(2);
  for (const path of ['/a', '/b', '/c']) ring.push(record(path), 20, 1000);
  assert.equal(ring.dropped, 1);
  const paths: string[] = [];
  assert.equal(ring.take(5, (q) => paths.push(q.path)), 2);
  assert.deepEqual(paths, ['/b', '/c']);
  assert.equal(ring.count, 0);
});

test('encodeExport: a retried request gets a CLIENT span per try under the SERVER span', () => {
  const rec = record('/r');
  rec.attempts = 2;
  rec.tried = new Set(['10.0.0.1:80']);
  rec.backend = '10.0.0.2:80';
  const ring = new RequestRing(4);
  ring.push(rec, 20, 1_765_000_000_000);
  const requests: Parameters<typeof encodeExport>[0][number][] = [];
  ring.take(4, (q) => requests.push(q));
  const { body, spans } = encodeExport(requests, { serviceName: 's', instanceId: 'i', pid: 1 });
  const parsed = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: { name: string; kind: number; spanId: string; parentSpanId?: string; attributes: { key: string; value: { stringValue?: string } }[] }[] }[] }[] };
  const all = parsed.resourceSpans[0].scopeSpans[0].spans;
  assert.equal(all.length, spans);
  const server = all.find((s) => s.kind === 2)!;
  assert.equal(server.spanId, 'cd'.repeat(8));
  assert.equal(server.parentSpanId, undefined);
  const tries = all.filter((s) => s.kind === 3);
  assert.deepEqual(tries.map((s) => s.attributes.find((a) => a.key === 'switchyard.backend')?.value.stringValue), ['10.0.0.1:80', '10.0.0.2:80']);
  assert.ok(all.filter((s) => s !== server).every((s) => s.parentSpanId === server.spanId));
  assert.equal(new Set(all.map((s) => s.spanId)).size, all.length, 'span ids are unique');
});

test('encodeExport: a TLS connection\'s first request starts at the accept with a tls handshake child; each filter hook that ran is a child', () => {
  const rec = record('/f');
  rec.tAccepted = 7;
  rec.tTls = 9;
  rec.filterNames = ['headers', 'cors'];
  // chain.ts layout: request, upstream head, response, body transform start/end per filter; cors's response hook never ended
  rec.filterTimes = new Float64Array([0, 0, 11.5, 11.6, 13.1, 13.2, 0, 0, 11.1, 11.2, 0, 0, 13.2, 0, 13.3, 19]);
  const ring = new RequestRing(4);
  ring.push(rec, 20, 1_765_000_000_000);
  rec.filterTimes.fill(0); // the connection's array, reused by its next request
  const requests: Parameters<typeof encodeExport>[0][number][] = [];
  ring.take(4, (q) => requests.push(q));
  const parsed = JSON.parse(encodeExport(requests, { serviceName: 's', instanceId: 'i', pid: 1 }).body) as { resourceSpans: { scopeSpans: { spans: { name: string; kind: number; startTimeUnixNano: string; endTimeUnixNano: string; attributes: { key: string; value: { stringValue?: string } }[] }[] }[] }[] };
  const all = parsed.resourceSpans[0].scopeSpans[0].spans;
  // to the µs: epoch ms plus a fraction lose bits past 2^40 in a double
  const ms = (nanos: string): number => Math.round(Number(BigInt(nanos) - 1_765_000_000_000_000_000n) / 1e3) / 1e3;
  const server = all.find((s) => s.kind === 2)!;
  assert.equal(ms(server.startTimeUnixNano), 7, 'the server span begins at the accept');
  const named = (s: (typeof all)[number]): string => `${s.name}${s.attributes.find((a) => a.key === 'switchyard.filter.phase') ? `/${s.attributes.find((a) => a.key === 'switchyard.filter.phase')!.value.stringValue}` : ''} ${ms(s.startTimeUnixNano)}-${ms(s.endTimeUnixNano)}`;
  assert.deepEqual(
    all.filter((s) => s.name === 'tls handshake' || s.name.startsWith('filter ')).map(named),
    ['tls handshake 7-9', 'filter headers/upstream_request 11.5-11.6', 'filter headers/response 13.1-13.2', 'filter cors/request 11.1-11.2', 'filter cors/response 13.2-20', 'filter cors/body 13.3-19'],
  );
});

test('encodeExport: with the earlier tries\' times, each failed try spans its own pick to its end, with why it failed', () => {
  const rec = record('/r');
  rec.attempts = 2;
  rec.tried = new Set(['10.0.0.1:80']);
  rec.backend = '10.0.0.2:80';
  rec.tAttempt = 12;
  rec.earlier = [{ backend: '10.0.0.1:80', tPick: 10.5, tConnected: 0, tFirstByte: 0, tEnd: 11.5, outcome: 'connect_error' }];
  const ring = new RequestRing(4);
  ring.push(rec, 20, 1_765_000_000_000);
  const requests: Parameters<typeof encodeExport>[0][number][] = [];
  ring.take(4, (q) => requests.push(q));
  const parsed = JSON.parse(encodeExport(requests, { serviceName: 's', instanceId: 'i', pid: 1 }).body) as { resourceSpans: { scopeSpans: { spans: { kind: number; startTimeUnixNano: string; endTimeUnixNano: string; attributes: { key: string; value: { stringValue?: string; intValue?: string } }[] }[] }[] }[] };
  const tries = parsed.resourceSpans[0].scopeSpans[0].spans.filter((s) => s.kind === 3);
  const nanos = (ms: number): bigint => BigInt(Math.round((1_765_000_000_000 + ms) * 1e6));
  assert.deepEqual(
    tries.map((s) => [BigInt(s.startTimeUnixNano) - nanos(0), BigInt(s.endTimeUnixNano) - nanos(0), s.attributes.find((a) => a.key === 'switchyard.outcome')?.value.stringValue]),
    [
      [10_500_000n, 11_500_000n, 'connect_error'],
      [12_000_000n, 20_000_000n, undefined],
    ],
  );
});
