// The `static` route action on the HTTP/1.1 listener: files from a root relative to baseDir,
// conditional requests, HEAD, 404, large files streamed, keep-alive and pipelining after a file; the
// open-file cache noticing a change, and a reload letting go of its descriptors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, mkdir, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configSchema } from '../../../src/config/index.ts';
import { silentLogger } from '../../../src/core/index.ts';
import { createHttpListener, type HttpListener } from '../../../src/l7/index.ts';
import { rawExchange, headerOf } from './helpers.ts';

const run = promisify(execFile);
let dir: string;
let listener: HttpListener;
let port: number;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sy-l7-static-'));
  await mkdir(path.join(dir, 'public', 'docs'), { recursive: true });
  await writeFile(path.join(dir, 'public', 'index.html'), '<h1>home</h1>');
  await writeFile(path.join(dir, 'public', 'docs', 'a.txt'), 'alpha');
  await writeFile(path.join(dir, 'public', 'big.bin'), Buffer.alloc(5 * 1024 * 1024, 'z'));
  const config = configSchema.parse({
    listeners: [{ name: 'static', listen: '127.0.0.1:0', routes: [{ match: { path_prefix: '/assets/' }, static: { root: './public', cache_control: 'public, max-age=60' }, strip_prefix: '/assets' }, { static: { root: './public' } }] }],
  });
  listener = createHttpListener(config.listeners[0], { pools: new Map(), accessLog: silentLogger(), logger: silentLogger(), baseDir: dir });
  await listener.start();
  port = listener.address().port;
});

after(async () => {
  await listener.stop();
  await rm(dir, { recursive: true, force: true });
});

test('files, index, strip_prefix, cache-control, 404', async () => {
  const r = await rawExchange(port, 'GET /assets/docs/a.txt HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nGET /missing HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 3 });
  assert.deepEqual(r.responses.map((x) => x.status), [200, 200, 404]);
  assert.equal(r.responses[0].body, 'alpha');
  assert.equal(headerOf(r.responses[0].head, 'cache-control'), 'public, max-age=60');
  assert.equal(headerOf(r.responses[0].head, 'content-type'), 'text/plain; charset=utf-8');
  assert.equal(r.responses[1].body, '<h1>home</h1>');
});

test('conditional GET answers 304; HEAD has the length and no body', async () => {
  const first = await rawExchange(port, 'GET /docs/a.txt HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 1 });
  const etag = headerOf(first.responses[0].head, 'etag')!;
  const again = await rawExchange(port, `GET /docs/a.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: ${etag}\r\n\r\nHEAD /docs/a.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
  assert.match(again.text, /^HTTP\/1\.1 304 /);
  assert.match(again.text, /HTTP\/1\.1 200 OK\r\n[^]*content-length: 5\r\n[^]*\r\n\r\n$/);
});

test('a large file streams completely (curl), path traversal is refused', async () => {
  const { stdout } = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `http://127.0.0.1:${port}/big.bin`]);
  assert.equal(stdout, `200 ${5 * 1024 * 1024}`);
  const traversal = await rawExchange(port, 'GET /docs/..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 1 });
  assert.equal(traversal.responses[0].status, 400);
});

/** Descriptors this process holds on `file` (the listener runs in-process). */
const descriptorsOn = async (file: string): Promise<number> => {
  let count = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === file) count++;
  }
  return count;
};

test('the open-file cache: a file changed on disk is served new; a reload lets the old descriptors go after their streams', async () => {
  await writeFile(path.join(dir, 'public', 'docs', 'c.txt'), 'one');
  assert.equal((await rawExchange(port, 'GET /docs/c.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).responses[0].body, 'one');
  await writeFile(path.join(dir, 'public', 'docs', 'c.txt'), 'two, longer');
  // the directory watch (or at the latest the one-second check) brings the new content
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = (await rawExchange(port, 'GET /docs/c.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).responses[0];
    assert.equal(headerOf(r.head, 'content-length'), String(r.body.length), 'length and body agree');
    if (r.body === 'two, longer') break;
    assert.equal(r.body, 'one');
    assert.ok(Date.now() < deadline, 'the change is noticed');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }

  const big = path.join(dir, 'public', 'big.bin');
  const { stdout } = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `http://127.0.0.1:${port}/big.bin`]);
  assert.equal(stdout, `200 ${5 * 1024 * 1024}`);
  assert.equal(await descriptorsOn(big), 1, 'kept open between requests');
  // a slow download is under way when the config is reloaded
  const socket = net.connect(port, '127.0.0.1');
  socket.write('GET /big.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  let received = 0;
  const ended = new Promise<void>((resolve) => socket.on('end', resolve));
  const first = new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    socket.pause();
    setTimeout(() => socket.resume(), 1);
  });
  await first;
  const config = configSchema.parse({ listeners: [{ name: 'static', listen: '127.0.0.1:0', routes: [{ static: { root: './public' } }] }] });
  listener.updateConfig(config.listeners[0], new Map());
  await ended;
  assert.ok(received > 5 * 1024 * 1024, 'the download under way completed');
  const deadline2 = Date.now() + 5000;
  while ((await descriptorsOn(big)) !== 0) {
    assert.ok(Date.now() < deadline2, 'the old runtime closed its descriptor');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const after = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `http://127.0.0.1:${port}/big.bin`]);
  assert.equal(after.stdout, `200 ${5 * 1024 * 1024}`, 'served by the new runtime');
});
