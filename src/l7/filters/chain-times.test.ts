// FilterChain's phase times (FilterContext.filterTimes): what the dashboard's per-filter bars read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FilterChain, FILTER_TIMES, T_BODY_END, T_BODY_START, T_REQUEST_END, T_REQUEST_START, T_RESPONSE_END, T_RESPONSE_START, T_UPSTREAM_END, T_UPSTREAM_START } from './chain.ts';
import { FlatWriter } from './writers.ts';
import type { BodySink, BodyTransform, FilterContext, HttpFilter, ResponseView } from './types.ts';

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
  assert.deepEqual(Array.from(times.subarray(0, FILTER_TIMES)), [0, 0, 5, 6, 7, 8, 0, 0], 'edits: no request hook; upstream head and response; no body transform');
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
  assert.deepEqual(Array.from(times), [0, 0, 0, 0, 3, 4, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0]);
});

/** A transform that holds every chunk and writes them all at its end, later (as zlib does off the thread). */
const holding: BodyTransform = {
  keepsLength: false,
  open(next: BodySink) {
    const held: Buffer[] = [];
    return {
      write: (chunk: Buffer) => void held.push(chunk),
      end: () =>
        void setImmediate(() => {
          for (const chunk of held) next.write(chunk);
          next.end();
        }),
    };
  },
};

test('a body transform is timed from its first byte in to its last byte out, the end written before the path hears of it', async () => {
  let clock = 0;
  const chain = new FilterChain([{ name: 'plain', onResponse: () => undefined }, { name: 'squeeze', onResponse: () => holding }], () => ++clock);
  const times = new Float64Array(2 * FILTER_TIMES);
  const transform = chain.onResponse(context(times), new FlatWriter([]), view) as BodyTransform;
  const squeeze = FILTER_TIMES;
  assert.equal(times[squeeze + T_BODY_START], 0, 'not started before a byte came');
  const out: string[] = [];
  let endSeen = -1;
  const ended = new Promise<void>((resolve) => {
    const input = transform.open({ write: (chunk) => void out.push(chunk.toString()), end: () => ((endSeen = times[squeeze + T_BODY_END]), resolve()) });
    input.write(Buffer.from('a'));
    input.write(Buffer.from('b'));
    input.end();
  });
  const started = times[squeeze + T_BODY_START];
  assert.ok(started > times[squeeze + T_RESPONSE_END], 'after the head hook');
  await ended;
  assert.deepEqual(out, ['a', 'b']);
  assert.ok(endSeen > started, 'the end time was there when the path heard of the end');
  assert.equal(times[T_BODY_START], 0, 'a filter without a transform has no body times');
});

test('an aborted body transform writes no end: the array may already be the next request\'s', async () => {
  let clock = 0;
  const chain = new FilterChain([{ name: 'squeeze', onResponse: () => holding }], () => ++clock);
  const times = new Float64Array(FILTER_TIMES);
  const transform = chain.onResponse(context(times), new FlatWriter([]), view) as BodyTransform;
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const input = transform.open({ write: () => undefined, end: () => ended() });
  input.write(Buffer.from('a'));
  input.end();
  input.abort?.();
  times.fill(0); // the connection's next request
  await done;
  assert.deepEqual(Array.from(times), new Array(FILTER_TIMES).fill(0));
});
