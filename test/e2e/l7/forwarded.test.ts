// Forwarded headers, the spoofing case, hop-by-hop stripping, hidden response headers, request ids.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startProxy, rawExchange, headerOf, type TestProxy } from './helpers.ts';
import { startEchoOrigin, startRecordingOrigin, type EchoOrigin, type RecordingOrigin } from '../../support/origins.ts';

let echo: EchoOrigin;
let recording: RecordingOrigin;
let untrusted: TestProxy;
let trusted: TestProxy;

before(async () => {
  echo = await startEchoOrigin();
  recording = await startRecordingOrigin();
  const pools = { echo: { backends: [{ address: echo.address }] }, rec: { backends: [{ address: recording.address }] } };
  const routes = [{ match: { path_prefix: '/rec' }, pool: 'rec' }, { pool: 'echo' }];
  untrusted = await startProxy({ routes }, pools);
  trusted = await startProxy({ routes, forwarded: { trusted_proxies: ['127.0.0.0/8', '10.0.0.0/8'], headers: ['x-forwarded-for', 'x-real-ip', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded'] } }, pools);
});

after(async () => {
  await untrusted.stop();
  await trusted.stop();
  await echo.close();
  await recording.close();
});

async function echoed(proxy: TestProxy, extra: string): Promise<{ headers: Record<string, string>; rawHeaders: string[] }> {
  const result = await rawExchange(proxy.port, `GET /e HTTP/1.1\r\nHost: site.test\r\n${extra}\r\n`, { responses: 1 });
  return JSON.parse(result.responses[0].body);
}

test('an untrusted client cannot spoof X-Forwarded-For or X-Real-IP', async () => {
  const { headers } = await echoed(untrusted, 'X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n');
  assert.equal(headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(headers['x-real-ip'], '127.0.0.1');
  assert.equal(headers['x-forwarded-proto'], 'http');
  assert.equal(headers['x-forwarded-host'], 'site.test');
  const log = untrusted.accessLog.at(-1)!;
  assert.equal(log.client, '127.0.0.1');
});

test('a trusted proxy chain: the real client is the right-most untrusted address', async () => {
  const { headers } = await echoed(trusted, 'X-Forwarded-For: 6.6.6.6, 203.0.113.9, 10.0.0.2\r\nX-Forwarded-Proto: https\r\n');
  assert.equal(headers['x-forwarded-for'], '6.6.6.6, 203.0.113.9, 10.0.0.2, 127.0.0.1');
  assert.equal(headers['x-real-ip'], '203.0.113.9');
  assert.equal(headers['x-forwarded-proto'], 'https');
  assert.equal(headers.forwarded, 'for=203.0.113.9;proto=http;host="site.test"');
  assert.equal(trusted.accessLog.at(-1)!.client, '203.0.113.9');
});

test('hop-by-hop request headers are stripped, end-to-end ones kept, exactly once', async () => {
  const before = recording.received().length;
  await rawExchange(
    untrusted.port,
    'GET /rec HTTP/1.1\r\nHost: site.test\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nProxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nX-Secret: s\r\nX-Kept: yes\r\n\r\n',
    { responses: 1 },
  );
  const sent = recording.received().slice(before);
  for (const name of ['connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection', 'x-secret']) {
    assert.doesNotMatch(sent, new RegExp(`\\r\\n${name}:`, 'i'), name);
  }
  assert.match(sent, /^GET \/rec HTTP\/1\.1\r\nHost: site\.test\r\n/);
  assert.match(sent, /\r\nX-Kept: yes\r\n/);
  assert.match(sent, /\r\nx-forwarded-for: 127\.0\.0\.1\r\n/);
});

test('upstream Server and X-Powered-By are hidden; hop-by-hop response headers stripped', async () => {
  const origin = http.createServer((_req, res) => {
    res.setHeader('server', 'secret-server/1.0');
    res.setHeader('x-powered-by', 'php');
    res.setHeader('keep-alive', 'timeout=5');
    res.setHeader('x-app', 'kept');
    res.end('ok');
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const port = (origin.address() as AddressInfo).port;
  const proxy = await startProxy({ routes: [{ pool: 'o' }] }, { o: { backends: [{ address: `127.0.0.1:${port}` }] } });
  try {
    const result = await rawExchange(proxy.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 1 });
    const head = result.responses[0].head;
    assert.equal(headerOf(head, 'server'), undefined);
    assert.equal(headerOf(head, 'x-powered-by'), undefined);
    assert.equal(headerOf(head, 'keep-alive'), undefined);
    assert.equal(headerOf(head, 'x-app'), 'kept');
  } finally {
    await proxy.stop();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  }
});

test('request id: generated when absent, propagated when present, logged', async () => {
  const generated = await echoed(untrusted, '');
  assert.match(generated.headers['x-request-id'], /^[0-9a-f]{16}-[0-9a-z]+$/);
  const second = await echoed(untrusted, '');
  assert.notEqual(second.headers['x-request-id'], generated.headers['x-request-id']);
  assert.equal(untrusted.accessLog.at(-2)!.request_id, generated.headers['x-request-id']);
  const propagated = await echoed(untrusted, 'X-Request-Id: abc-123\r\n');
  assert.equal(propagated.headers['x-request-id'], 'abc-123');
  assert.equal(propagated.rawHeaders.filter((h) => h.toLowerCase() === 'x-request-id').length, 1);
  assert.equal(untrusted.accessLog.at(-1)!.request_id, 'abc-123');
});
