// Draining a backend through the admin API while long streaming responses are in flight from it: the
// streams complete intact (every byte), and the backend gets no new request afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'undici';
import { startLoad } from '../../support/load.ts';
import { cleanupStack, edge, origins } from './support.ts';

const defer = cleanupStack();

const STREAM_BYTES = 1024 * 1024;
/** 64 chunks of 16 KiB, 40 ms apart: about 2.6 s per stream, long enough to run traffic beside it. */
const STREAM_PATH = `/stream?bytes=${STREAM_BYTES}&pace=40`;

interface Stream {
  origin: string;
  /** Resolves with the byte count once the body ended (or rejects when it was cut). */
  body: Promise<number>;
  /** Date.now() when the body ended (0 until then). */
  endedAt: number;
}

async function openStream(base: string, defer: ReturnType<typeof cleanupStack>): Promise<Stream> {
  const client = new Client(base);
  defer(() => client.destroy());
  const response = await client.request({ path: STREAM_PATH, method: 'GET', headersTimeout: 5_000, bodyTimeout: 5_000 });
  assert.equal(response.statusCode, 200);
  const stream: Stream = { origin: String(response.headers['x-origin']), body: Promise.resolve(0), endedAt: 0 };
  stream.body = (async () => {
    let bytes = 0;
    for await (const chunk of response.body) bytes += (chunk as Buffer).length;
    stream.endedAt = Date.now();
    await client.close();
    return bytes;
  })();
  // a test that fails early never awaits the body; the cleanup's destroy() must not become an unhandled rejection
  stream.body.catch(() => undefined);
  return stream;
}

test('drain a backend with long streams in flight: they complete, it gets no new request', { timeout: 30_000 }, async (t) => {
  const [a, b] = await origins(defer, ['a', 'b']);
  const sy = await edge(
    defer,
    `
admin: { listen: 127.0.0.1:0 }
log: { access_log: "off" }
pools:
  app:
    backends: [ { address: ${a.address} }, { address: ${b.address} } ]
    health: { type: http, path: /healthz, interval: 200ms, timeout: 300ms, rise: 2, fall: 2 }
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
      - { match: { path_prefix: / }, pool: app }
`,
  );
  // four streams, round robin: two from each origin (opened one after another so the order is fixed)
  const streams: Stream[] = [];
  for (let index = 0; index < 4; index++) streams.push(await openStream(sy.base, defer));
  const fromA = streams.filter((stream) => stream.origin === 'a');
  assert.equal(fromA.length, 2, `two streams from a (${streams.map((stream) => stream.origin)})`);
  assert.equal((await a.stats()).inflight, 2);

  const drainedAt = Date.now();
  await sy.drain('app', a.address);
  const status = await sy.backend('app', a.address);
  assert.equal(status.state, 'draining');
  assert.equal(status.inflight, 2, 'the admin API counts the two streams still in flight on a');
  const requestsAtDrain = (await a.stats()).requests['/work'] ?? 0;

  // new requests while the streams are still running: all go to b
  const load = startLoad({ origin: sy.base, path: '/work', clients: 4, maxRequests: 100, timeoutMs: 3_000 });
  defer(() => load.stop());
  const summary = await load.done;
  assert.equal(summary.failures.length, 0);
  assert.deepEqual([...new Set(load.samples.map((sample) => sample.origin))], ['b'], 'only b answers new requests');
  assert.equal((await a.stats()).requests['/work'] ?? 0, requestsAtDrain, 'a received no new request after the drain');

  const sizes = await Promise.all(streams.map((stream) => stream.body));
  const lastNewRequest = Math.max(...load.samples.map((sample) => sample.end));
  const firstStreamEnd = Math.min(...fromA.map((stream) => stream.endedAt));
  assert.ok(lastNewRequest < firstStreamEnd, `the new requests ran while a was still streaming (${firstStreamEnd - lastNewRequest}ms to spare)`);
  t.diagnostic(`streams ended ${Date.now() - drainedAt}ms after the drain; sizes ${sizes.join(', ')}`);
  assert.deepEqual(sizes, [STREAM_BYTES, STREAM_BYTES, STREAM_BYTES, STREAM_BYTES], 'every stream complete, byte for byte');
  assert.equal((await sy.backend('app', a.address)).inflight, 0);
  assert.equal((await a.stats()).requests['/work'] ?? 0, requestsAtDrain, 'still nothing new on a');
});
