// WebSocket tunnelling (real handshake and frames with Node's WebSocket client) and Expect: 100-continue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy, rawExchange, waitFor, type TestProxy } from './helpers.ts';
import { startWebSocketOrigin, startEchoOrigin, type Origin, type EchoOrigin } from '../../support/origins.ts';

const run = promisify(execFile);
let ws: Origin;
let echo: EchoOrigin;
let proxy: TestProxy;
let dir: string;
let bodyFile: string;
const bodySize = 2 * 1024 * 1024;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sy-l7-continue-'));
  bodyFile = join(dir, 'body.bin');
  await writeFile(bodyFile, Buffer.alloc(bodySize, 'y'));
  ws = await startWebSocketOrigin();
  echo = await startEchoOrigin();
  proxy = await startProxy(
    {
      routes: [
        { match: { path_prefix: '/ws' }, pool: 'ws' },
        { match: { path_prefix: '/local' }, respond: { body: 'local' } },
        { pool: 'echo' },
      ],
    },
    { ws: { backends: [{ address: ws.address }] }, echo: { backends: [{ address: echo.address }] } },
  );
});

after(async () => {
  await proxy.stop();
  await ws.close();
  await echo.close();
  await rm(dir, { recursive: true, force: true });
});

test('WebSocket: handshake through the proxy, text and binary frames echo, close', async () => {
  const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/ws/chat`);
  socket.binaryType = 'arraybuffer';
  const messages: (string | ArrayBuffer)[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => {
      socket.send('hello');
      socket.send(new Uint8Array(70_000).fill(7));
      socket.send('x'.repeat(300));
    };
    socket.onmessage = (event) => {
      messages.push(event.data as string | ArrayBuffer);
      if (messages.length === 3) socket.close(1000, 'done');
    };
    socket.onclose = () => resolve();
    socket.onerror = () => reject(new Error('websocket error'));
  });
  assert.equal(messages[0], 'hello');
  assert.equal((messages[1] as ArrayBuffer).byteLength, 70_000);
  assert.equal(messages[2], 'x'.repeat(300));
  // the log line is written when both directions have ended, just after the client saw the close
  assert.ok(await waitFor(() => proxy.accessLog.some((entry) => entry.path === '/ws/chat')));
  assert.equal(proxy.accessLog.findLast((entry) => entry.path === '/ws/chat')?.status, 101);
});

test('an upgrade the origin refuses is an ordinary response', async () => {
  const result = await rawExchange(proxy.port, 'GET /plain HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', { responses: 1 });
  assert.equal(result.responses[0].status, 200);
  assert.equal(JSON.parse(result.responses[0].body).headers.upgrade, 'websocket');
});

test('Expect: 100-continue with curl: the 100 is relayed and the body arrives', async () => {
  const { stdout, stderr } = await run('curl', ['-sS', '-v', '-H', 'Expect: 100-continue', '--expect100-timeout', '10', '--data-binary', `@${bodyFile}`, `http://127.0.0.1:${proxy.port}/upload`]);
  assert.match(stderr, /HTTP\/1\.1 100 Continue/);
  assert.equal(JSON.parse(stdout).bodyLength, bodySize);
});

test('Expect: 100-continue, body streamed (request_buffering off): an origin that answers without reading the body gets its answer relayed, then close', async () => {
  const origin = http.createServer((_req, res) => res.end('retried'));
  origin.on('checkContinue', (_req, res) => {
    res.writeHead(417, { 'content-length': 4 });
    res.end('nope');
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const port = (origin.address() as AddressInfo).port;
  const refusing = await startProxy({ routes: [{ pool: 'o', request_buffering: { enabled: false } }] }, { o: { backends: [{ address: `127.0.0.1:${port}` }] } });
  try {
    const started = performance.now();
    const { stdout, stderr } = await run('curl', ['-sS', '-v', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Expect: 100-continue', '--expect100-timeout', '10', '--data-binary', `@${bodyFile}`, `http://127.0.0.1:${refusing.port}/`]);
    // the answer came before the body: relayed with Connection: close (the body's fate is unknown)
    assert.match(stderr, /< HTTP\/1\.1 417[^]*< connection: close/);
    assert.equal(stdout, '417');
    assert.ok(performance.now() - started < 5000);
  } finally {
    await refusing.stop();
    origin.closeAllConnections();
    await new Promise<void>((resolve) => origin.close(() => resolve()));
  }
});

test('Expect: 100-continue on a local route is answered at once (the client never waits)', async () => {
  const started = performance.now();
  const { stdout } = await run('curl', ['-sS', '-H', 'Expect: 100-continue', '--expect100-timeout', '10', '--data-binary', `@${bodyFile}`, `http://127.0.0.1:${proxy.port}/local`]);
  assert.equal(stdout, 'local');
  assert.ok(performance.now() - started < 5000);
});
