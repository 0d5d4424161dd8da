// Purging the response cache of a running edge with two workers: POST /api/cache/purge (by URL, by prefix,
// bad bodies refused) and `switchyard purge`, against a counting origin.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { cliEntry, node24, runSwitchyard } from '../../support/run-switchyard.ts';

const seen = new Map<string, number>();
const origin = http.createServer((req, res) => {
  seen.set(req.url!, (seen.get(req.url!) ?? 0) + 1);
  res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=300' });
  res.end(`${req.url} #${seen.get(req.url!)}`);
});
after(() => new Promise<void>((resolve) => origin.close(() => resolve())));

test('POST /api/cache/purge and switchyard purge drop entries in every worker', { timeout: 60_000 }, async () => {
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const running = await runSwitchyard(`
admin: { listen: 127.0.0.1:0 }
workers: 2
shutdown_timeout: 1s
pools:
  site: { backends: [ { address: 127.0.0.1:${(origin.address() as AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    access_log: false
    routes:
      - { match: { path_prefix: / }, pool: site, middleware: [ { cache: {} } ] }
`);
  try {
    const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
    const purge = (body: unknown, auth = token) =>
      fetch(`http://127.0.0.1:${running.ready.admin!.port}/api/cache/purge`, { method: 'POST', headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    // one kept-alive connection, so one worker, answers every check
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (pathname: string) =>
      new Promise<{ status: string; body: string }>((resolve, reject) => {
        http
          .get(running.url('web', pathname), { agent }, (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => (body += chunk));
            response.on('end', () => resolve({ status: String(response.headers['cache-status'] ?? ''), body }));
          })
          .on('error', reject);
      });
    // new connections are spread over the workers by the kernel: most likely both store it
    const url = running.url('web', '/assets/a.css');
    for (let i = 0; i < 8; i++) await fetch(url, { headers: { connection: 'close' } }).then((response) => response.text());
    assert.ok(seen.get('/assets/a.css')! <= 2, 'at most one miss per worker');
    await get('/assets/a.css');
    assert.match((await get('/assets/a.css')).status, /hit/);

    const purged = await purge({ url });
    assert.equal(purged.status, 200);
    assert.ok(((await purged.json()) as { purged: number }).purged >= 1);
    assert.match((await get('/assets/a.css')).status, /uri-miss/);

    for (const file of ['b.css', 'c.css']) await get(`/assets/${file}`);
    await get('/other');
    const byPrefix = (await (await purge({ prefix: running.url('web', '/assets/') })).json()) as { purged: number };
    assert.ok(byPrefix.purged >= 3, `purged ${byPrefix.purged}`);
    assert.match((await get('/other')).status, /hit/, 'outside the prefix: kept');

    for (const bad of ['not json', { url: 'ftp://x/' }, { url: '/relative' }, { url: 'http://a/', prefix: 'http://a/' }, {}, { url: 'http://a/', extra: 1 }]) {
      const refused = await purge(bad);
      assert.equal(refused.status, 400, JSON.stringify(bad));
      assert.match(((await refused.json()) as { error: string }).error, /cache purge body must be JSON/);
    }
    assert.equal((await purge({ url }, 'wrong-token')).status, 401);

    const cli = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(node24, [cliEntry, 'purge', '-c', running.configFile, '--prefix', running.url('web', '/')], (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr })),
    );
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^purged [1-9]\d* cached responses?\n$/);
    assert.match((await get('/other')).status, /uri-miss/);
    agent.destroy();
    const usage = await new Promise<number>((resolve) => execFile(node24, [cliEntry, 'purge', '-c', running.configFile, 'not-a-url'], (error) => resolve(error ? (error.code as number) : 0)));
    assert.equal(usage, 2);
  } finally {
    await running.stop();
  }
});

test('cache.disk: a restarted edge answers from what the previous one stored', { timeout: 60_000 }, async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'switchyard-cache-data-'));
  const config = `
data_dir: ${dataDir}
workers: 2
shutdown_timeout: 1s
pools:
  site: { backends: [ { address: 127.0.0.1:${(origin.address() as AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    access_log: false
    routes:
      - { match: { path_prefix: / }, pool: site, middleware: [ { cache: { disk: { max_size: 10mb } } } ] }
`;
  try {
    // the key holds the Host the client sent: both edges are asked for the same one, whatever their ports
    const get = (url: string) =>
      new Promise<{ status: string; body: string }>((resolve, reject) => {
        http
          .get(url, { headers: { host: 'site.test' }, agent: false }, (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => (body += chunk));
            response.on('end', () => resolve({ status: String(response.headers['cache-status'] ?? ''), body }));
          })
          .on('error', reject);
      });
    const first = await runSwitchyard(config);
    let stored: string;
    try {
      const response = await get(first.url('web', '/disk/a.js'));
      stored = response.body;
      assert.match(response.status, /stored/);
    } finally {
      // a graceful stop: the write in flight lands before the worker exits, or the next edge misses once
      await first.stop();
    }
    const second = await runSwitchyard(config);
    try {
      const response = await get(second.url('web', '/disk/a.js'));
      assert.equal(response.body, stored);
      assert.match(response.status, /^Switchyard; hit; ttl=\d+$/);
      assert.equal(seen.get('/disk/a.js'), 1, 'the origin was asked once, by the first edge');
    } finally {
      await second.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
