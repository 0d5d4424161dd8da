import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTraceParent, newTraceParent, parseServerTiming, parseTraceParent } from './server-timing.ts';

test('Server-Timing: several headers, several entries each, quoted descriptions with commas', () => {
  const entries = parseServerTiming(['edge_route;dur=0.2;desc="route users, v2", edge_balance;dur=0.1', 'db;dur=12.5;desc=select;start=3', 'cache']);
  assert.deepEqual(entries, [
    { name: 'edge_route', durationMs: 0.2, description: 'route users, v2' },
    { name: 'edge_balance', durationMs: 0.1 },
    { name: 'db', durationMs: 12.5, description: 'select', startMs: 3 },
    { name: 'cache' },
  ]);
});

test('Server-Timing: the first dur wins, junk is skipped', () => {
  assert.deepEqual(parseServerTiming(['a;dur=1;dur=2', 'b;dur=abc', '"bad name";dur=1', ' , ']), [{ name: 'a', durationMs: 1 }, { name: 'b' }]);
});

test('traceparent: generated ids are valid and round-trip', () => {
  const tp = newTraceParent();
  assert.match(formatTraceParent(tp), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.deepEqual(parseTraceParent(formatTraceParent(tp)), tp);
});

test('traceparent: invalid forms are rejected, upper case accepted from the user', () => {
  assert.equal(parseTraceParent('00-00000000000000000000000000000000-0000000000000001-01'), undefined);
  assert.equal(parseTraceParent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), undefined);
  assert.equal(parseTraceParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7'), undefined);
  assert.equal(parseTraceParent(' 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01')?.parentId, '00f067aa0ba902b7');
});
