// Keep-alive on both sides, pipelining, and bodies (fixed and chunked) in both directions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy, rawExchange, headerOf, type TestProxy } from './helpers.ts';
import { startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';

const run = promisify(execFile);
let origin: EchoOrigin;
let proxy: TestProxy;
let dir: string;

before(async () => {
  origin = await startEchoOrigin();
  proxy = await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } });
  dir = await mkdtemp(join(tmpdir(), 'sy-l7-'));
});

after(async () => {
  await proxy.stop();
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

test('keep-alive: many requests on one downstream connection reuse one upstream connection', async () => {
  const before = origin.connections();
  const request = `GET /k HTTP/1.1\r\nHost: a.test\r\n\r\n`;
  const result = await rawExchange(proxy.port, [request], { responses: 1 });
  assert.equal(result.responses[0].status, 200);
  const again = await rawExchange(proxy.port, request.repeat(5), { responses: 5 });
  assert.equal(again.responses.length, 5);
  assert.ok(origin.connections() - before <= 1, `expected one upstream connection, got ${origin.connections() - before}`);
});

test('pipelining: two requests in one packet are answered in order', async () => {
  const data = 'GET /first?delay=50 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /second HTTP/1.1\r\nHost: a.test\r\n\r\n';
  const result = await rawExchange(proxy.port, data, { responses: 2 });
  assert.equal(result.responses.length, 2);
  assert.equal(JSON.parse(result.responses[0].body).url, '/first?delay=50');
  assert.equal(JSON.parse(result.responses[1].body).url, '/second');
});

test('pipelining with bodies: a POST body followed by the next request in the same packet', async () => {
  const data = 'POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /g HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
  const result = await rawExchange(proxy.port, data, { responses: 2 });
  assert.equal(JSON.parse(result.responses[0].body).bodyLength, 5);
  assert.equal(JSON.parse(result.responses[1].body).url, '/g');
  assert.equal(headerOf(result.responses[1].head, 'connection'), 'close');
});

test('fixed-length upload and download with curl', async () => {
  const body = Buffer.alloc(3 * 1024 * 1024, 'a');
  const file = join(dir, 'up.bin');
  await writeFile(file, body);
  const { stdout } = await run('curl', ['-sS', '--data-binary', `@${file}`, `http://127.0.0.1:${proxy.port}/upload`]);
  const echoed = JSON.parse(stdout);
  assert.equal(echoed.bodyLength, body.length);
  assert.equal(echoed.bodySha256, createHash('sha256').update(body).digest('hex'));
  const down = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download}', `http://127.0.0.1:${proxy.port}/dl?bytes=5000000&length=1`]);
  assert.equal(down.stdout, '5000000');
});

test('chunked upload and chunked download with curl', async () => {
  const body = Buffer.alloc(1024 * 1024 + 7, 'b');
  const file = join(dir, 'chunked.bin');
  await writeFile(file, body);
  const { stdout } = await run('curl', ['-sS', '-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, `http://127.0.0.1:${proxy.port}/upload`]);
  assert.equal(JSON.parse(stdout).bodyLength, body.length);
  const down = await run('curl', ['-sS', '-D', '-', '-o', '/dev/null', '-w', '%{size_download}', `http://127.0.0.1:${proxy.port}/dl?bytes=3000001`]);
  assert.match(down.stdout, /transfer-encoding: chunked/i);
  assert.match(down.stdout, /3000001$/);
});

test('chunked request body split across packets, with extensions and trailers', async () => {
  const parts = ['POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhel', 'lo\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n'];
  const result = await rawExchange(proxy.port, parts, { responses: 1 });
  assert.equal(JSON.parse(result.responses[0].body).bodyLength, 11);
});

test('HTTP/1.0 client: chunked upstream response is de-chunked and the connection closes', async () => {
  const result = await rawExchange(proxy.port, 'GET /dl?bytes=1000 HTTP/1.0\r\n\r\n');
  assert.equal(result.closed, true);
  assert.match(result.text, /^HTTP\/1\.1 200/);
  assert.doesNotMatch(result.text, /transfer-encoding/i);
  assert.equal(result.text.split('\r\n\r\n')[1], 'x'.repeat(1000));
});

test('HTTP/1.0 keep-alive client gets Connection: keep-alive', async () => {
  const result = await rawExchange(proxy.port, 'GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', { responses: 1 });
  assert.equal(headerOf(result.responses[0].head, 'connection'), 'keep-alive');
});

test('HEAD responses carry no body and keep the connection usable', async () => {
  const result = await rawExchange(proxy.port, 'HEAD /h HTTP/1.1\r\nHost: a\r\n\r\nGET /after?body=done HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  const parts = result.text.split('HTTP/1.1 200 OK\r\n');
  assert.equal(parts.length, 3);
  assert.ok(parts[1].endsWith('\r\n\r\n'), 'the HEAD response has no body');
  assert.ok(parts[2].endsWith('\r\n\r\ndone'));
});

test('max_requests_per_connection closes after the limit', async () => {
  const limited = await startProxy({ limits: { max_requests_per_connection: 2 }, routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } });
  try {
    const request = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    const result = await rawExchange(limited.port, request.repeat(3));
    assert.equal(result.responses.length, 2);
    assert.equal(headerOf(result.responses[1].head, 'connection'), 'close');
    assert.equal(result.closed, true);
  } finally {
    await limited.stop();
  }
});

test('an upstream that closes idle keep-alive sockets: the proxy drops them and never answers 502', async () => {
  const short = createServer((_req, res) => res.end('ok'));
  short.keepAliveTimeout = 100;
  await new Promise<void>((resolve) => short.listen(0, '127.0.0.1', resolve));
  const port = (short.address() as AddressInfo).port;
  const p = await startProxy({ routes: [{ pool: 's' }] }, { s: { backends: [{ address: `127.0.0.1:${port}` }], keepalive: { max_idle: 8, idle_timeout: '10s' } } });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const result = await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 1 });
      statuses.push(result.responses[0]?.status ?? 0);
      // straddle the origin's idle timeout so some reuses race with its close
      await new Promise((resolve) => setTimeout(resolve, 90 + (i % 3) * 10));
    }
    assert.deepEqual(statuses, Array(10).fill(200));
  } finally {
    await p.stop();
    short.closeAllConnections();
    await new Promise<void>((resolve) => short.close(() => resolve()));
  }
});
