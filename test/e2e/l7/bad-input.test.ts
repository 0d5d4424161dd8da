// Bad input: each malformed request is answered 400/431 (or 501/505) with Connection: close, the
// connection closes, and the recording origin proves that nothing reached the upstream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startProxy, rawExchange, headerOf, type TestProxy } from './helpers.ts';
import { startRecordingOrigin, type RecordingOrigin } from '../../support/origins.ts';

let origin: RecordingOrigin;
let proxy: TestProxy;

before(async () => {
  origin = await startRecordingOrigin();
  proxy = await startProxy({ timeouts: { header: '400ms' }, limits: { max_header_size: '4kb' }, routes: [{ pool: 'rec' }] }, { rec: { backends: [{ address: origin.address }] } });
});

after(async () => {
  await proxy.stop();
  await origin.close();
});

const cases: [string, string, number][] = [
  ['malformed request line', 'GET/HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['garbage request line', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', 400],
  ['lower-case version', 'GET / http/1.1\r\nHost: a\r\n\r\n', 400],
  ['unsupported version', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
  ['invalid header name', 'GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n', 400],
  ['header name with colon gap', 'GET / HTTP/1.1\r\nHost: a\r\nX-A : x\r\n\r\n', 400],
  ['invalid header value (NUL)', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n', 400],
  ['invalid header value (bare CR)', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n', 400],
  ['oversized headers', `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`, 431],
  ['oversized headers, never terminated', `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(5000)}`, 431],
  ['request line over the head limit', `GET /${'a'.repeat(5000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414],
  ['request line over the head limit, never terminated', `GET /${'a'.repeat(5000)}`, 414],
  ['Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['Transfer-Encoding and Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n', 400],
  ['duplicate differing Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde', 400],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n', 400],
  ['bare LF line endings', 'GET / HTTP/1.1\nHost: a\n\n', 400],
  ['bare LF in one header line', 'GET / HTTP/1.1\r\nHost: a\nX-A: 1\r\n\r\n', 400],
  ['invalid chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', 400],
  ['chunk size with junk', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n', 400],
  ['chunk data longer than its size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n', 400],
  ['chunk size overflow', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n', 400],
  ['Transfer-Encoding not ending in chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n', 400],
  ['unknown transfer coding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
  ['missing Host on HTTP/1.1', 'GET / HTTP/1.1\r\nX-A: 1\r\n\r\n', 400],
  ['two Host headers', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['Content-Length with sign', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', 400],
];

for (const [name, request, expected] of cases) {
  test(`${name} → ${expected}, closed, nothing upstream`, async () => {
    const before = origin.received().length;
    const result = await rawExchange(proxy.port, request, { timeoutMs: 3000 });
    assert.equal(result.responses[0]?.status, expected, result.text);
    assert.equal(headerOf(result.responses[0].head, 'connection'), 'close');
    assert.equal(result.closed, true);
    assert.equal(origin.received().slice(before), '');
  });
}

test('a bad request pipelined after a good one: the good one is answered, the bad one never forwarded', async () => {
  const before = origin.received().length;
  const result = await rawExchange(proxy.port, 'GET /good HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n');
  assert.deepEqual(result.responses.map((r) => r.status), [200, 400]);
  const received = origin.received().slice(before);
  assert.match(received, /GET \/good/);
  assert.doesNotMatch(received, /\/bad/);
});

test('slowloris: a head trickled byte by byte is cut off by the header timeout with 408', async () => {
  const before = origin.received().length;
  const socket = net.connect(proxy.port, '127.0.0.1');
  const started = performance.now();
  let received = '';
  socket.on('data', (data) => (received += data.toString('latin1')));
  const head = 'GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ' + 'a'.repeat(200);
  let i = 0;
  const timer = setInterval(() => {
    if (i < head.length && !socket.destroyed) socket.write(head[i++]);
  }, 20);
  await new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
    setTimeout(() => {
      socket.destroy();
      resolve();
    }, 5000).unref();
  });
  clearInterval(timer);
  const elapsed = performance.now() - started;
  assert.match(received, /^HTTP\/1\.1 408 /);
  assert.ok(elapsed >= 350 && elapsed < 2000, `cut after ${elapsed} ms`);
  assert.equal(origin.received().slice(before), '');
});

test('a connection that sends nothing is closed by the header timeout', async () => {
  const socket = net.connect(proxy.port, '127.0.0.1');
  const started = performance.now();
  await new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
    socket.resume();
  });
  assert.ok(performance.now() - started < 2000);
});
