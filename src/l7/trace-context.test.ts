import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TraceIds, parseTraceparent, tokenMatches } from './trace-context.ts';

test('parseTraceparent accepts the W3C form and refuses malformed ones', () => {
  assert.deepEqual(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', flags: '01' });
  // a later version may append fields
  assert.deepEqual(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-ever'), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', flags: '00' });
  for (const bad of [
    '',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x',
    '00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x',
  ]) assert.equal(parseTraceparent(bad), null, bad);
});

test('TraceIds gives distinct lower-case hex ids of the asked size, across block refills', () => {
  const ids = new TraceIds();
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const id = ids.next(16);
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.ok(!/^0+$/.test(id));
    seen.add(id);
  }
  assert.equal(seen.size, 1000);
  assert.match(ids.next(8), /^[0-9a-f]{16}$/);
});

test('TraceIds.nextTraceAndSpan: 48 hex digits, neither the trace id nor the span id all zero, across block refills', () => {
  const ids = new TraceIds();
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const both = ids.nextTraceAndSpan();
    assert.match(both, /^[0-9a-f]{48}$/);
    assert.ok(!/^0+$/.test(both.slice(0, 32)));
    assert.ok(!/^0+$/.test(both.slice(32)));
    seen.add(both.slice(0, 32));
  }
  assert.equal(seen.size, 1000);
  // a block of zeros (what a broken random source would give) still yields valid ids
  const zeros = new TraceIds();
  (zeros as unknown as { block: Buffer }).block.fill(0);
  (zeros as unknown as { at: number }).at = 0;
  const both = zeros.nextTraceAndSpan();
  assert.equal(both, '01' + '0'.repeat(30) + '01' + '0'.repeat(14));
});

test('tokenMatches: exact token only, never without one', () => {
  assert.equal(tokenMatches('abc', 'abc'), true);
  assert.equal(tokenMatches('abd', 'abc'), false);
  assert.equal(tokenMatches('abc ', 'abc'), false);
  assert.equal(tokenMatches('', ''), false);
  assert.equal(tokenMatches('abc', undefined), false);
});
