// Upstream failures map to 502 / 503 / 504 with short bodies that leak no internal address.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { startProxy, rawExchange, headerOf, type TestProxy } from './helpers.ts';
import { startEchoOrigin, startGarbageOrigin, startSilentOrigin, startWebSocketOrigin, refusedPort, type EchoOrigin, type Origin } from '../../support/origins.ts';

let echo: EchoOrigin;
let garbage: Origin;
let silent: Origin;
let proxy: TestProxy;

before(async () => {
  echo = await startEchoOrigin();
  garbage = await startGarbageOrigin();
  silent = await startSilentOrigin();
  const refused = await refusedPort();
  proxy = await startProxy(
    {
      timeouts: { upstream_response: '300ms' },
      routes: [
        { match: { path_prefix: '/refused' }, pool: 'refused' },
        { match: { path_prefix: '/garbage' }, pool: 'garbage' },
        { match: { path_prefix: '/silent' }, pool: 'silent' },
        { match: { path_prefix: '/drained' }, pool: 'drained' },
        { match: { path_prefix: '/patient' }, pool: 'echo', timeouts: { upstream_response: '3s' } },
        { pool: 'echo' },
      ],
    },
    {
      refused: { backends: [{ address: `127.0.0.1:${refused}` }] },
      garbage: { backends: [{ address: garbage.address }] },
      silent: { backends: [{ address: silent.address }] },
      drained: { backends: [{ address: echo.address, drain: true }] },
      echo: { backends: [{ address: echo.address }] },
    },
  );
});

after(async () => {
  await proxy.stop();
  await echo.close();
  await garbage.close();
  await silent.close();
});

async function status(path: string): Promise<{ status: number; head: string; body: string }> {
  const result = await rawExchange(proxy.port, `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`, { responses: 1 });
  assert.equal(result.responses.length, 1, result.text);
  return result.responses[0];
}

function assertShort(response: { body: string }): void {
  assert.ok(response.body.length < 64);
  assert.doesNotMatch(response.body, /127\.0\.0\.1|:\d{2,5}/);
}

test('502 when the upstream refuses the connection', async () => {
  const r = await status('/refused');
  assert.equal(r.status, 502);
  assertShort(r);
  assert.equal(proxy.accessLog.at(-1)!.status, 502);
});

test('502 when the upstream answers garbage', async () => {
  const r = await status('/garbage');
  assert.equal(r.status, 502);
  assertShort(r);
});

test('503 when the pool has no usable backend', async () => {
  const r = await status('/drained');
  assert.equal(r.status, 503);
  assertShort(r);
});

test('504 when the upstream is too slow (listener timeout), route override allows more', async () => {
  const started = performance.now();
  const r = await status('/slow?delay=2000');
  assert.equal(r.status, 504);
  assert.ok(performance.now() - started < 1500);
  assertShort(r);
  assert.equal((await status('/silent')).status, 504);
  const patient = await status('/patient?delay=500');
  assert.equal(patient.status, 200);
});

test('upstream 5xx responses are relayed as they are', async () => {
  const r = await status('/x?status=500&body=boom');
  assert.equal(r.status, 500);
  assert.equal(r.body, 'boom');
  assert.equal(headerOf(r.head, 'connection'), undefined);
});

test('a client that stops sending its body is cut by timeouts.body with 408', async () => {
  const p = await startProxy({ timeouts: { body: '300ms' }, routes: [{ pool: 'echo' }] }, { echo: { backends: [{ address: echo.address }] } });
  try {
    const started = performance.now();
    const result = await rawExchange(p.port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc', { timeoutMs: 4000 });
    assert.equal(result.responses[0]?.status, 408, result.text);
    assert.equal(result.closed, true);
    assert.ok(performance.now() - started < 2000);
  } finally {
    await p.stop();
  }
});

test('an idle WebSocket-style tunnel is closed after timeouts.tunnel_idle', async () => {
  const ws = await startWebSocketOrigin();
  const p = await startProxy({ timeouts: { tunnel_idle: '300ms' }, routes: [{ pool: 'ws' }] }, { ws: { backends: [{ address: ws.address }] } });
  try {
    const started = performance.now();
    const result = await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n', { timeoutMs: 4000 });
    assert.match(result.text, /^HTTP\/1\.1 101 /);
    assert.equal(result.closed, true);
    assert.ok(performance.now() - started < 2000);
  } finally {
    await p.stop();
    await ws.close();
  }
});

test('a backend that refuses connections is skipped: the request re-enters "pick upstream" with the tried set', async () => {
  const refused = await refusedPort();
  const p = await startProxy(
    { routes: [{ pool: 'mixed' }] },
    { mixed: { backends: [{ address: `127.0.0.1:${refused}` }, { address: echo.address }], retries: { attempts: 1, on: ['connect_error'] } } },
  );
  const once = await startProxy(
    { routes: [{ pool: 'mixed' }] },
    { mixed: { backends: [{ address: `127.0.0.1:${refused}` }, { address: echo.address }], retries: { attempts: 0 } } },
  );
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 1 })).responses[0].status);
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    const without: number[] = [];
    for (let i = 0; i < 4; i++) without.push((await rawExchange(once.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 1 })).responses[0].status);
    assert.ok(without.includes(502), `expected a 502 without retries, got ${without}`);
  } finally {
    await p.stop();
    await once.stop();
  }
});

test('504 when connecting takes longer than timeouts.upstream_connect (a listener whose accept queue is full)', async (t) => {
  // python: listen(0) and never accept; three pending connects fill the queue, so later SYNs go unanswered
  const script = [
    'import socket, time',
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)",
    'fill = []',
    'for i in range(3):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(s.getsockname())',
    '    except BlockingIOError: pass',
    '    fill.append(c)',
    'time.sleep(0.3)',
    'print(s.getsockname()[1], flush=True)',
    'time.sleep(20)',
  ].join('\n');
  const available = await new Promise<boolean>((resolve) => {
    const probe = spawn('python3', ['--version'], { stdio: 'ignore' });
    probe.on('error', () => resolve(false));
    probe.on('exit', (code) => resolve(code === 0));
  });
  if (!available) {
    t.skip('python3 is needed to hold a listener that never accepts');
    return;
  }
  const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  const p = await startProxy({ timeouts: { upstream_connect: '300ms' }, routes: [{ pool: 'hole' }] }, { hole: { backends: [{ address: `127.0.0.1:${port}` }], retries: { attempts: 0 } } });
  try {
    const started = performance.now();
    const result = await rawExchange(p.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 1, timeoutMs: 4000 });
    assert.equal(result.responses[0]?.status, 504, result.text);
    assert.ok(performance.now() - started < 2000);
    assert.equal(p.accessLog.at(-1)!.connect_ms, undefined);
  } finally {
    await p.stop();
  }
});
