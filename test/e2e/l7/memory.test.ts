// Backpressure: 300 MB up (once, then three at a time) and 300 MB down through a proxy in a child process,
// with the slow side deliberately slower; the proxy's RSS (read from /proc) must stay flat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const TOTAL = 300 * 1024 * 1024;
const MAX_GROWTH = 64 * 1024 * 1024;
let origin: http.Server;
let child: ChildProcess;
let port: number;
/** The proxy's RSS once it listens: every test measures growth from here, so garbage one test leaves
 * behind (and the GC has not collected yet) cannot raise the next test's baseline and hide its growth. */
let startRss: number;

/** The process's resident set in bytes; throws when it cannot be read, so no check passes unmeasured. */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`rss of ${pid}: no VmRSS line in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

before(async () => {
  // The origin reads uploads slowly (pauses) and streams downloads as fast as the proxy accepts.
  origin = http.createServer((req, res) => {
    if (req.method === 'POST') {
      let received = 0;
      let sinceBreak = 0;
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        sinceBreak += chunk.length;
        if (sinceBreak >= 4 * 1024 * 1024) {
          sinceBreak = 0;
          req.pause();
          setTimeout(() => req.resume(), 5);
        }
      });
      req.on('end', () => res.end(String(received)));
      return;
    }
    res.writeHead(200, { 'content-length': TOTAL });
    const chunk = Buffer.alloc(256 * 1024, 'd');
    let left = TOTAL;
    const pump = (): void => {
      while (left > 0) {
        left -= chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originPort = (origin.address() as AddressInfo).port;
  const config = { listener: { timeouts: { body: '20s' }, limits: { max_body_size: '1gb' }, routes: [{ pool: 'o' }] }, pools: { o: { backends: [{ address: `127.0.0.1:${originPort}` }] } } };
  child = spawn(process.execPath, [fileURLToPath(new URL('./proxy-child.ts', import.meta.url)), JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  port = (JSON.parse(line.toString()) as { port: number }).port;
  startRss = rssOf(child.pid!);
});

after(async () => {
  child.kill('SIGTERM');
  await once(child, 'exit');
  origin.closeAllConnections();
  await new Promise<void>((resolve) => origin.close(() => resolve()));
});

async function sampleWhile<T>(work: Promise<T>): Promise<{ result: T; peak: number; base: number }> {
  const base = startRss;
  let peak = rssOf(child.pid!);
  let failure: unknown;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(child.pid!));
    } catch (err) {
      failure ??= err;
    }
  }, 50);
  try {
    const result = await work;
    if (failure !== undefined) throw failure;
    return { result, peak, base };
  } finally {
    clearInterval(timer);
  }
}

test('300 MB download to a slow reader keeps the proxy RSS flat', { timeout: 50_000 }, async (t) => {
  const download = new Promise<number>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'));
    let bytes = 0;
    let sinceBreak = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      sinceBreak += chunk.length;
      if (sinceBreak >= 4 * 1024 * 1024) {
        sinceBreak = 0;
        socket.pause();
        setTimeout(() => socket.resume(), 5);
      }
    });
    socket.on('end', () => resolve(bytes));
    socket.on('error', reject);
  });
  const { result, peak, base } = await sampleWhile(download);
  assert.ok(result >= TOTAL, `received ${result}`);
  t.diagnostic(`rss ${(base / 1048576).toFixed(1)} MB → peak ${(peak / 1048576).toFixed(1)} MB`);
  assert.ok(peak - base < MAX_GROWTH, `rss grew ${((peak - base) / 1048576).toFixed(1)} MB`);
});

/** Uploads TOTAL bytes through the proxy; resolves with the origin's count of what it received. */
function upload(): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/up', headers: { 'content-length': TOTAL }, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(256 * 1024, 'u');
    let left = TOTAL;
    const pump = (): void => {
      while (left > 0) {
        left -= chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

// request_buffering is on (the default): each upload spills to a file and is read back from it
for (const parallel of [1, 3]) {
  test(`${parallel === 1 ? '300 MB upload' : `${parallel} parallel 300 MB uploads`} to a slow origin keep${parallel === 1 ? 's' : ''} the proxy RSS flat`, { timeout: 50_000 }, async (t) => {
    const { result, peak, base } = await sampleWhile(Promise.all(Array.from({ length: parallel }, upload)));
    assert.deepEqual(result.map(Number), Array(parallel).fill(TOTAL));
    t.diagnostic(`rss ${(base / 1048576).toFixed(1)} MB → peak ${(peak / 1048576).toFixed(1)} MB`);
    assert.ok(peak - base < MAX_GROWTH, `rss grew ${((peak - base) / 1048576).toFixed(1)} MB`);
  });
}
