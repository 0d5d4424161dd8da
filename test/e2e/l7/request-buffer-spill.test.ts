// Spilled request bodies (request_buffering past memory_max) travel in slabs shared by the listener's
// requests: copied into them from the client, written to the spill file, read back into them for each try.
// These check the bytes, not just the lengths: patterned bodies that are no multiple of the slab size, a
// retry that re-reads the file from its start after the first backend reset mid-body, and parallel bodies
// whose slabs come from one pool (a slab given back while still in use would mix their bytes).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { startProxy, rawExchange, bridgeExchange, listenCounting, startResettingOrigin, type CountingOrigin, type TestProxy } from './helpers.ts';
import { startEchoOrigin } from '../../support/origins.ts';

/** Stops (a proxy) or closes (an origin) `thing` when test `t` ends. */
function ownedBy<T extends { close?: () => Promise<void>; stop?: () => Promise<void> }>(t: TestContext, thing: T): T {
  t.after(() => (thing.stop ?? thing.close)!.call(thing));
  return thing;
}

/** A body whose every 4-byte word differs from its neighbours' (seeded: each request's differs too). */
function patterned(length: number, seed: number): Buffer {
  const body = Buffer.alloc(length);
  for (let i = 0; i + 4 <= length; i += 4) body.writeUInt32LE((Math.imul(i, 2654435761) ^ seed) >>> 0, i);
  return body;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Hashes request bodies slowly (20 ms pauses): the kernel buffers fill and the proxy's upstream writes queue. */
async function startSlowHashOrigin(): Promise<CountingOrigin> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    const hash = createHash('sha256');
    let bodyLength = 0;
    let sinceBreak = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bodyLength += chunk.length;
      sinceBreak += chunk.length;
      if (sinceBreak >= 512 * 1024) {
        sinceBreak = 0;
        req.pause();
        setTimeout(() => req.resume(), 20);
      }
    });
    req.on('end', () => {
      const text = JSON.stringify({ bodyLength, bodySha256: hash.digest('hex'), headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    });
  });
  return listenCounting(server, () => requests, () => server.closeAllConnections());
}

async function put(proxy: TestProxy, body: Buffer, chunked: boolean): Promise<{ status: number; bodyLength: number; bodySha256: string; contentLength: string }> {
  const framing = chunked ? 'transfer-encoding: chunked' : `content-length: ${body.length}`;
  const parts: Buffer[] = [Buffer.from(`PUT /doc HTTP/1.1\r\nhost: a\r\n${framing}\r\n\r\n`)];
  // pieces of odd sizes, so the slabs fill across reads
  for (let at = 0; at < body.length; at += 99_991) {
    const piece = body.subarray(at, at + 99_991);
    parts.push(chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece);
  }
  if (chunked) parts.push(Buffer.from('0\r\n\r\n'));
  const result = await rawExchange(proxy.port, parts, { responses: 1, timeoutMs: 20_000 });
  const response = result.responses[0];
  assert.ok(response !== undefined, result.text.slice(0, 200));
  const echoed = JSON.parse(response.body) as { bodyLength: number; bodySha256: string; headers: Record<string, string> };
  return { status: response.status, bodyLength: echoed.bodyLength, bodySha256: echoed.bodySha256, contentLength: echoed.headers['content-length'] };
}

test('a spilled body reset mid-way by the first backend is resent whole, from the start of its file', { timeout: 60_000 }, async (t) => {
  const bad = ownedBy(t, await startResettingOrigin(1024 * 1024));
  const good = ownedBy(t, await startEchoOrigin({ name: 'good' }));
  const backends = { backends: [{ address: bad.address }, { address: good.address }], retries: { attempts: 2, on: ['reset'] } };
  for (const chunked of [false, true]) {
    // a fresh proxy each time: round robin's first pick is the resetting backend
    const proxy = ownedBy(t, await startProxy({ request_buffering: { memory_max: '16kb' }, routes: [{ pool: 'app' }] }, { app: backends }));
    const body = patterned(5 * 1024 * 1024 + 12_345, chunked ? 7 : 11);
    const result = await put(proxy, body, chunked);
    assert.equal(result.status, 200);
    assert.equal(result.bodyLength, body.length);
    assert.equal(result.bodySha256, sha256(body), 'the second try got the body byte for byte');
    assert.equal(result.contentLength, String(body.length));
    assert.equal(proxy.accessLog.at(-1)!.attempts, 2);
    assert.equal(proxy.listener.status().inflight, 0);
  }
});

test('HTTP/2 requests (the bridge): a spilled body reset mid-way is resent whole too', { timeout: 60_000 }, async (t) => {
  const bad = ownedBy(t, await startResettingOrigin(1024 * 1024));
  const good = ownedBy(t, await startEchoOrigin({ name: 'good' }));
  const proxy = ownedBy(t, await startProxy({ request_buffering: { memory_max: '16kb' }, routes: [{ pool: 'app' }] }, { app: { backends: [{ address: bad.address }, { address: good.address }], retries: { attempts: 2, on: ['reset'] } } }));
  // the codec stand-in takes text: the patterned bytes as base64, in DATA-sized pieces
  const text = patterned(3 * 1024 * 1024 + 5, 21).toString('base64');
  const pieces: string[] = [];
  for (let at = 0; at < text.length; at += 16_384) pieces.push(text.slice(at, at + 16_384));
  const answer = await bridgeExchange(proxy.listener, { method: 'PUT', path: '/doc', contentLength: text.length }, pieces);
  assert.equal(answer.status, 200, answer.error?.message);
  const echoed = JSON.parse(answer.body) as { bodyLength: number; bodySha256: string };
  assert.equal(echoed.bodyLength, text.length);
  assert.equal(echoed.bodySha256, sha256(Buffer.from(text, 'latin1')));
  assert.equal(proxy.accessLog.at(-1)!.attempts, 2);
});

test('parallel spilled bodies share the slab pool and each arrives intact, again and again', { timeout: 60_000 }, async (t) => {
  const origin = ownedBy(t, await startEchoOrigin());
  const proxy = ownedBy(t, await startProxy({ request_buffering: { memory_max: '16kb' }, routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } }));
  for (let round = 0; round < 3; round++) {
    const bodies = [0, 1, 2, 3].map((i) => patterned(2 * 1024 * 1024 + 1000 * i + round, round * 4 + i + 1));
    const results = await Promise.all(bodies.map((body, i) => put(proxy, body, i % 2 === 0)));
    results.forEach((result, i) => {
      assert.equal(result.status, 200);
      assert.equal(result.bodySha256, sha256(bodies[i]), `round ${round} body ${i}`);
    });
  }
  assert.equal(proxy.listener.status().inflight, 0);
});

test('a spilled body sent to a slow origin arrives intact: a slab is read into again only after its write', { timeout: 60_000 }, async (t) => {
  const origin = ownedBy(t, await startSlowHashOrigin());
  const proxy = ownedBy(t, await startProxy({ request_buffering: { memory_max: '16kb' }, routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } }));
  const bodies = [0, 1].map((i) => patterned(8 * 1024 * 1024 + 777 * i, 100 + i));
  const results = await Promise.all(bodies.map((body, i) => put(proxy, body, i === 1)));
  results.forEach((result, i) => {
    assert.equal(result.status, 200);
    assert.equal(result.bodyLength, bodies[i].length);
    assert.equal(result.bodySha256, sha256(bodies[i]), `body ${i}`);
  });
  assert.equal(proxy.listener.status().inflight, 0);
});
