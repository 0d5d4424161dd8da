// FilterChain's phase times (FilterContext.filterTimes): what the dashboard's per-filter bars read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FilterChain, FILTER_TIMES, T_REQUEST_END, T_REQUEST_START, T_RESPONSE_END, T_RESPONSE_START, T_UPSTREAM_END, T_UPSTREAM_START } from './chain.ts';
import { FlatWriter } from './writers.ts';
import type { FilterContext, HttpFilter, ResponseView } from './types.ts';

/** A context with only what the chain and these filters read. */
function context(times: Float64Array | null): FilterContext & { filterTimes: Float64Array | null } {
  return { filterTimes: times } as FilterContext & { filterTimes: Float64Array | null };
}

const view: ResponseView = { status: 200, header: () => undefined, fields: () => [], backend: 'b' };

test('each hook run gets its start and end at the filter\'s place in the chain; hooks a filter lacks stay 0', async () => {
  let clock = 0;
  const now = () => ++clock;
  let release!: () => void;
  const filters: HttpFilter[] = [
    { name: 'edits', onUpstreamRequest: () => undefined, onResponse: () => undefined },
    { name: 'waits', onRequest: () => new Promise((resolve) => (release = () => resolve(undefined))) },
    { name: 'checks', onRequest: () => undefined, onResponse: () => undefined },
  ];
  const chain = new FilterChain(filters, now);
  const times = new Float64Array(filters.length * FILTER_TIMES);
  const ctx = context(times);
  const verdict = chain.onRequest(ctx);
  assert.ok(verdict instanceof Promise);
  const waits = 1 * FILTER_TIMES;
  assert.equal(times[waits + T_REQUEST_START], 1);
  assert.equal(times[waits + T_REQUEST_END], 0, 'not ended while its verdict is pending');
  release();
  assert.equal(await verdict, undefined);
  const checks = 2 * FILTER_TIMES;
  assert.deepEqual([times[waits + T_REQUEST_END], times[checks + T_REQUEST_START], times[checks + T_REQUEST_END]], [2, 3, 4], 'the async end, then the next filter');
  chain.onUpstreamRequest(ctx, new FlatWriter([]));
  chain.onResponse(ctx, new FlatWriter([]), view);
  assert.deepEqual(Array.from(times.subarray(0, FILTER_TIMES)), [0, 0, 5, 6, 7, 8], 'edits: no request hook; upstream head and response');
  assert.deepEqual([times[checks + T_UPSTREAM_START], times[checks + T_UPSTREAM_END], times[checks + T_RESPONSE_START], times[checks + T_RESPONSE_END]], [0, 0, 8, 9], 'one reading ends a hook and starts the next');
});

test('no array: nothing recorded and no clock read; an array given up before a verdict settles is not written', async () => {
  let reads = 0;
  const now = () => ++reads;
  let release!: () => void;
  const chain = new FilterChain([{ name: 'waits', onRequest: () => new Promise((resolve) => (release = () => resolve(undefined))) }], now);
  const untimed = chain.onRequest(context(null));
  release();
  await untimed;
  assert.equal(reads, 0);
  const times = new Float64Array(FILTER_TIMES);
  const ctx = context(times);
  const pending = chain.onRequest(ctx);
  ctx.filterTimes = null; // the request ended (an HTTP/1.1 connection hands its array to the next one)
  release();
  await pending;
  assert.equal(times[T_REQUEST_END], 0);
});

test('a request filter\'s own answer through the response filters declared before it: their response hooks are timed', () => {
  let clock = 0;
  const chain = new FilterChain(
    [
      { name: 'edits', onResponse: () => undefined },
      { name: 'refuses', onRequest: () => ({ status: 429, headers: [], body: 'slow down\n' }) },
    ],
    () => ++clock,
  );
  const times = new Float64Array(2 * FILTER_TIMES);
  const answer = chain.onRequest(context(times));
  assert.equal((answer as { status: number }).status, 429);
  assert.deepEqual(Array.from(times), [0, 0, 0, 0, 3, 4, 1, 2, 0, 0, 0, 0]);
});
