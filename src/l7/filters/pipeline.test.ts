// Several body transforms on one response (cache and compress on one route): each stage can stop the
// upstream through the path's hold/release, not only the stage the path's sink was handed to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FilterChain } from './chain.ts';
import { FlatWriter } from './writers.ts';
import type { BodySink, BodyTransform, FilterContext, HttpFilter, ResponseView } from './types.ts';

const view: ResponseView = { status: 200, header: () => undefined, fields: () => [], backend: 'b' };

/** A transform that holds the upstream on every write and releases it on the next tick, as a busy compressor does. */
function holding(name: string, seen: string[]): BodyTransform {
  return {
    keepsLength: true,
    open(next: BodySink) {
      return {
        write(chunk) {
          seen.push(`${name} hold:${typeof next.hold}`);
          next.hold?.();
          next.write(chunk);
          next.release?.();
        },
        end: () => next.end(),
      };
    },
  };
}

test('every stage of a multi-transform body sees the path\'s hold/release', () => {
  const seen: string[] = [];
  const filters: HttpFilter[] = ['first', 'second', 'third'].map((name) => ({ name, onResponse: () => holding(name, seen) }));
  const chain = new FilterChain(filters, () => 0);
  const verdict = chain.onResponse({ filterTimes: null } as unknown as FilterContext, new FlatWriter([]), view);
  assert.ok(verdict !== undefined && 'open' in verdict);
  let holds = 0;
  let releases = 0;
  const out: Buffer[] = [];
  let ended = false;
  const sink = verdict.open({ write: (chunk) => out.push(chunk), end: () => (ended = true), hold: () => holds++, release: () => releases++ });
  sink.write(Buffer.from('body'));
  sink.end();
  assert.deepEqual(seen.sort(), ['first hold:function', 'second hold:function', 'third hold:function']);
  assert.equal(holds, 3);
  assert.equal(releases, 3);
  assert.equal(Buffer.concat(out).toString(), 'body');
  assert.ok(ended);
});
