// Hostile request bodies (issue 13): smuggling through Connection, slow clients and request buffering,
// the whole-body time limit, spilled bodies. Real sockets to real origins that record what reached them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { startProxy, rawExchange, startLlhttpOrigin, waitFor, bridgeExchange, type TestProxy } from './helpers.ts';
import { startRecordingOrigin, startEchoOrigin } from '../../support/origins.ts';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});
function defer<T extends { close?: () => Promise<void>; stop?: () => Promise<void> }>(thing: T): T {
  cleanup.push(async () => {
    await thing.stop?.();
    await thing.close?.();
  });
  return thing;
}

const smuggled = 'GET /admin HTTP/1.1\r\nHost: a.test\r\n\r\n';

for (const buffering of [true, false]) {
  test(`Connection cannot switch off the edge's framing or Host (request_buffering ${buffering ? 'on' : 'off'})`, async () => {
    const origin = defer(await startLlhttpOrigin());
    const proxy = defer(await startProxy({ request_buffering: { enabled: buffering }, routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } }));
    for (const token of ['transfer-encoding', 'content-length', 'host', 'te', 'upgrade', 'transfer-encoding, host, content-length']) {
      for (const chunked of [true, false]) {
        origin.seen.length = 0;
        const body = chunked ? `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n` : smuggled;
        const framing = chunked ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${smuggled.length}\r\n`;
        const request = `POST /upload HTTP/1.1\r\nHost: a.test\r\n${framing}TE: trailers\r\nConnection: ${token}\r\n\r\n${body}`;
        const first = await rawExchange(proxy.port, request, { responses: 1 });
        assert.equal(first.responses[0]?.status, 200, `${token}: ${first.text}`);
        assert.equal(first.responses[0].body, 'ok:/upload');
        // the next request on the (pooled) upstream connection is answered for itself
        const next = await rawExchange(proxy.port, 'GET /next HTTP/1.1\r\nHost: a.test\r\n\r\n', { responses: 1 });
        assert.equal(next.responses[0]?.body, 'ok:/next', token);
        assert.ok(await waitFor(() => origin.seen.length >= 2));
        // the origin saw exactly the valid request: its Host, the whole body as its body, and nothing else
        assert.deepEqual(
          origin.seen.map((r) => `${r.method} ${r.url} ${r.headers.host}`),
          ['POST /upload a.test', 'GET /next a.test'],
          `${token} ${chunked ? 'chunked' : 'length'}`,
        );
        assert.equal(origin.seen[0].body.toString('latin1'), smuggled);
        assert.equal(origin.seen[0].headers.te, undefined);
      }
    }
    assert.deepEqual(origin.errors, []);
  });
}

test('20 slow-body clients hold no origin connection until their bodies are complete', async () => {
  const origin = defer(await startRecordingOrigin());
  const proxy = defer(await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } }));
  const clients: net.Socket[] = [];
  const answers: Promise<string>[] = [];
  for (let i = 0; i < 20; i++) {
    const socket = net.connect(proxy.port, '127.0.0.1');
    clients.push(socket);
    answers.push(
      new Promise((resolve) => {
        let text = '';
        socket.on('data', (d) => {
          text += d.toString('latin1');
          if (text.endsWith('ok')) resolve(text);
        });
        socket.on('close', () => resolve(text));
      }),
    );
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`POST /slow/${i} HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\n`);
  }
  for (let byte = 0; byte < 4; byte++) {
    for (const socket of clients) socket.write('x');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(origin.connections(), 0, 'no origin connection while bodies trickle in');
    assert.equal(origin.received(), '');
  }
  for (const socket of clients) socket.write('x');
  const texts = await Promise.all(answers);
  for (const text of texts) assert.match(text, /^HTTP\/1\.1 200/);
  assert.equal(origin.received().match(/\r\n\r\nxxxxx/g)?.length, 20);
  assert.equal(origin.received().match(/\r\ncontent-length: 5\r\n/g)?.length, 20);
  for (const socket of clients) socket.destroy();
});

test('timeouts.body_total: a body still incomplete at the limit gets 408 and nothing reaches the origin', async () => {
  const origin = defer(await startRecordingOrigin());
  for (const buffering of [true, false]) {
    const proxy = defer(await startProxy({ request_buffering: { enabled: buffering }, timeouts: { body: '10s', body_total: '300ms' }, routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } }));
    const socket = net.connect(proxy.port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    const started = performance.now();
    socket.write('POST /slow HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100\r\n\r\n');
    // a byte every 50 ms: each read is well within timeouts.body, the whole body never within body_total
    const timer = setInterval(() => socket.writable && socket.write('y'), 50);
    await closed;
    clearInterval(timer);
    const elapsed = performance.now() - started;
    assert.match(text, /^HTTP\/1\.1 408/);
    assert.ok(elapsed >= 280 && elapsed < 3000, `answered after ${elapsed} ms`);
    if (buffering) assert.equal(origin.received(), '', 'buffered: nothing went upstream');
    else assert.match(origin.received(), /^POST \/slow/, 'streamed: the head went upstream (and that connection was closed)');
  }
});

test('a body larger than memory_max spills to a file under data_dir, arrives intact, and the file is gone', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sy-spill-'));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  const origin = defer(await startEchoOrigin());
  const proxy: TestProxy = defer(await startProxy({ request_buffering: { memory_max: '16kb' }, routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } }, { dataDir }));
  const body = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
  // chunked, in small writes: the decoder hands the payload to the spill file piece by piece
  const chunks: Buffer[] = [];
  for (let at = 0; at < body.length; at += 100_000) {
    const piece = body.subarray(at, at + 100_000);
    chunks.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from('0\r\n\r\n'));
  const result = await rawExchange(proxy.port, [Buffer.from('PUT /big HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n'), ...chunks], { responses: 1, timeoutMs: 10_000 });
  assert.equal(result.responses[0]?.status, 200, result.text.slice(0, 200));
  const echoed = JSON.parse(result.responses[0].body) as { bodyLength: number; bodySha256: string; headers: Record<string, string> };
  assert.equal(echoed.bodyLength, body.length);
  assert.equal(echoed.bodySha256, createHash('sha256').update(body).digest('hex'));
  assert.equal(echoed.headers['content-length'], String(body.length), 'a buffered body goes up with Content-Length');
  assert.equal(echoed.headers['transfer-encoding'], undefined);
  assert.deepEqual(await readdir(path.join(dataDir, 'request-bodies')), []);
  assert.equal(proxy.listener.status().inflight, 0);
});

test('spill_max_total bounds the bytes spilled at once: beyond it the request gets 503, nothing upstream', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sy-spill-'));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  const origin = defer(await startRecordingOrigin());
  const proxy = defer(await startProxy({ request_buffering: { memory_max: '1kb', spill_max_total: '4kb' }, routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } }, { dataDir }));
  // chunked: buffered whatever the reads (a Content-Length body that came whole with its head is sent as is)
  const result = await rawExchange(proxy.port, ['POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n', `2710\r\n${'z'.repeat(10_000)}\r\n0\r\n\r\n`], { responses: 1 });
  assert.equal(result.responses[0]?.status, 503);
  assert.equal(origin.received(), '');
});

test('request_buffering off on a route streams the body: the origin has the head before the body is complete', async () => {
  const origin = defer(await startRecordingOrigin());
  const proxy = defer(
    await startProxy({ routes: [{ match: { path_prefix: '/stream' }, pool: 'app', request_buffering: { enabled: false } }, { pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } }),
  );
  for (const [target, streams] of [['/stream', true], ['/buffered', false]] as const) {
    const before = origin.received().length;
    const socket = net.connect(proxy.port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`POST ${target} HTTP/1.1\r\nHost: a.test\r\nContent-Length: 6\r\n\r\nabc`);
    if (streams) assert.ok(await waitFor(() => origin.received().slice(before).includes('\r\n\r\nabc')), 'the first half went upstream at once');
    else {
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(origin.received().slice(before), '', 'buffered: nothing upstream yet');
    }
    socket.write('def');
    assert.ok(await waitFor(() => text.endsWith('ok')));
    assert.match(origin.received().slice(before), new RegExp(`^POST ${target} [^]*content-length: 6\\r\\n[^]*\\r\\n\\r\\nabcdef$`));
    socket.destroy();
  }
});

test('an Expect: 100-continue body is buffered: the edge sends the 100 itself, the origin gets the body with no Expect', async () => {
  const origin = defer(await startRecordingOrigin());
  const proxy = defer(await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } }));
  const socket = net.connect(proxy.port, '127.0.0.1');
  let text = '';
  socket.on('data', (d) => (text += d.toString('latin1')));
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write('POST /e HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
  assert.ok(await waitFor(() => text.startsWith('HTTP/1.1 100 Continue\r\n\r\n')));
  assert.equal(origin.received(), '');
  socket.write('body');
  assert.ok(await waitFor(() => text.endsWith('ok')));
  assert.doesNotMatch(origin.received(), /expect/i);
  assert.match(origin.received(), /\r\n\r\nbody$/);
  socket.destroy();
});

test('max_connections per backend: excess requests wait in connection_queue, then get 503; the origin never sees more connections', async () => {
  const origin = defer(await startEchoOrigin());
  const get = (proxy: TestProxy, delay: number): Promise<number> =>
    rawExchange(proxy.port, `GET /?delay=${delay} HTTP/1.1\r\nHost: a.test\r\n\r\n`, { responses: 1, timeoutMs: 5000 }).then((r) => r.responses[0]?.status ?? 0);
  // two connections, two places in the queue: the fifth request finds both full and gets 503 at once
  const queued = defer(await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }], max_connections: 2, connection_queue: { size: 2, timeout: '2s' } } }));
  const statuses = await Promise.all([0, 1, 2, 3, 4].map(() => get(queued, 150)));
  assert.deepEqual(statuses.sort(), [200, 200, 200, 200, 503]);
  assert.equal(origin.connections(), 2, 'the two queued requests reused the two connections');
  // a wait longer than connection_queue.timeout ends in 503
  const before = origin.connections();
  const short = defer(await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }], max_connections: 1, connection_queue: { size: 5, timeout: '200ms' } } }));
  const started = performance.now();
  const slow = get(short, 800);
  const waited = await Promise.all([get(short, 0), get(short, 0)]);
  assert.deepEqual(waited, [503, 503]);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 180 && elapsed < 700, `503 after ${elapsed} ms`);
  assert.equal(await slow, 200);
  assert.equal(origin.connections() - before, 1);
});

test('a connection that closes hands its slot to the next waiter', async () => {
  const origin = defer(await startEchoOrigin());
  const proxy = defer(await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }], max_connections: 1 } }));
  // the origin closes after each response: the slot, not the connection, goes to the next waiter
  const request = 'GET /?delay=50&header=connection:close HTTP/1.1\r\nHost: a.test\r\n\r\n';
  const statuses = await Promise.all([0, 1, 2].map(() => rawExchange(proxy.port, request, { responses: 1 }).then((r) => r.responses[0]?.status)));
  assert.deepEqual(statuses, [200, 200, 200]);
  assert.equal(origin.connections(), 3, 'each waiter got a new connection in the freed slot');
});

test('the bridge (HTTP/2 requests) waits in connection_queue too, and times out there with 503', async () => {
  const origin = defer(await startEchoOrigin());
  const proxy = defer(await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }], max_connections: 1, connection_queue: { size: 1, timeout: '2s' } } }));
  const answers = await Promise.all([0, 1, 2].map(() => bridgeExchange(proxy.listener, { path: '/?delay=100' })));
  assert.deepEqual(answers.map((a) => a.status || a.error?.status).sort(), [200, 200, 503], 'two served on one connection, the third found the queue full');
  assert.equal(origin.connections(), 1);
  const short = defer(await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }], max_connections: 1, connection_queue: { size: 4, timeout: '150ms' } } }));
  const [slow, waited] = await Promise.all([bridgeExchange(short.listener, { path: '/?delay=600' }), bridgeExchange(short.listener, { path: '/' })]);
  assert.equal(slow.status, 200);
  assert.equal(waited.error?.status, 503);
});
