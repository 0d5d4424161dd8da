// HTTP/3 at the edge, end to end: `switchyard start` (a real worker process) with an https listener that
// has `http3: true`, a real origin behind it, and real HTTP/3 clients — Debian's ngtcp2 client
// (gtlsclient, ngtcp2's example client over GnuTLS) and Chromium forced to QUIC for the origin. Proves that
// HTTP/3 requests go through the listener's one pipeline (route, pool, forwarded headers, access log with
// "protocol":"h3"), request bodies and streamed responses, the Alt-Svc advertisement on the TCP side,
// address validation (Retry: `retry: always`), that garbage datagrams to the port cost nothing and crash
// nothing (the status counts them), that `check` and `start` refuse http3 when the addon is missing,
// naming the packages, that a reload turns HTTP/3 on, and that a drain refuses new QUIC connections while
// the request in flight finishes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';
import { startH2Origin, type H2Origin } from '../h2/h2-origin.ts';
import { cliEntry, node24, runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const run = promisify(execFile);
const addon = path.resolve(import.meta.dirname, '..', '..', '..', 'src', 'h3', 'native', 'build', 'Release', 'switchyard_h3.node');
const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));
const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface H3Result {
  code: number;
  /** The client's log (stderr and stdout): packets and HTTP events. */
  log: string;
  dir: string;
}

/**
 * One gtlsclient run: fetches `paths` on one QUIC connection (SNI localhost), saves the bodies in a fresh
 * directory (--download), exits when every stream is closed.
 */
async function gtlsclient(port: number, paths: string[], extra: string[] = []): Promise<H3Result> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sy-h3-client-'));
  const args = ['--exit-on-all-streams-close', '--no-quic-dump', '--no-http-dump', `--download=${dir}`, '--timeout=10s', ...extra, '127.0.0.1', String(port), ...paths.map((p) => `https://localhost:${port}${p}`)];
  try {
    const { stdout, stderr } = await run('gtlsclient', args, { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, log: stdout + stderr, dir };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, log: (failed.stdout ?? '') + (failed.stderr ?? ''), dir };
  }
}

describe('http3 listener', { timeout: 120_000 }, () => {
  let origin: EchoOrigin;
  let h2origin: H2Origin;
  let edge: RunningSwitchyard;
  let port: number;
  const clientDirs: string[] = [];

  before(async () => {
    assert.ok(existsSync(addon), `${addon} is not built: npm test builds it (scripts/ensure-test-tools.ts installs libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev)`);
    origin = await startEchoOrigin({ name: 'o1' });
    h2origin = await startH2Origin('h2o');
    edge = await runSwitchyard(`
admin: { listen: 127.0.0.1:0 }
pools:
  web: { backends: [ { address: "${origin.address}" } ] }
  grpcish: { protocol: h2c, backends: [ { address: "${h2origin.address}" } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true }
    http3: { retry: always }
    routes:
      - { match: { path_prefix: /fixed }, respond: { status: 200, body: "fixed answer" } }
      - match: { path_prefix: /filtered }
        pool: web
        middleware:
          - headers: { request: { set: { x-client: "{client_ip}" } }, response: { set: { x-edge: switchyard } } }
      - { match: { path_prefix: /api }, pool: web }
      - { match: { path_prefix: /h2up }, pool: grpcish }
`);
    port = edge.ready.listeners.web.port;
  });

  after(async () => {
    await edge?.stop();
    await origin?.close();
    await h2origin?.close();
    await Promise.all(clientDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  const fetchH3 = async (paths: string[], extra: string[] = []): Promise<H3Result> => {
    const result = await gtlsclient(port, paths, extra);
    clientDirs.push(result.dir);
    assert.equal(result.code, 0, `gtlsclient failed:\n${result.log.slice(-3000)}`);
    return result;
  };

  it('proxies a GET to the pool with forwarded headers, after a Retry, and logs it as h3', async () => {
    const result = await fetchH3(['/api/items?x=1']);
    const echoed = JSON.parse(await readFile(path.join(result.dir, 'items?x=1'), 'utf8')) as { method: string; url: string; headers: Record<string, string> };
    assert.equal(echoed.method, 'GET');
    assert.equal(echoed.url, '/api/items?x=1');
    assert.equal(echoed.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(echoed.headers['x-forwarded-proto'], 'https');
    assert.equal(echoed.headers.host, `localhost:${port}`);
    assert.match(echoed.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // retry: always: the client's first Initial was answered with a Retry and its second carried the token
    assert.match(result.log, /Retry/, 'no Retry packet seen by the client');
    const line = await edge.waitForLine((l) => l.log === 'access' && l.path === '/api/items' && l.protocol === 'h3');
    assert.equal(line.status, 200);
    assert.equal(line.pool, 'web');
    assert.equal(line.backend, origin.address);
    assert.equal(line.client, '127.0.0.1');
  });

  it('answers from the route without an upstream (fixed response)', async () => {
    const result = await fetchH3(['/fixed']);
    assert.equal(await readFile(path.join(result.dir, 'fixed'), 'utf8'), 'fixed answer');
    await edge.waitForLine((l) => l.log === 'access' && l.path === '/fixed' && l.protocol === 'h3' && l.status === 200);
  });

  it("runs the route's middleware on HTTP/3 requests, both ways", async () => {
    const result = await fetchH3(['/filtered/x']);
    const echoed = JSON.parse(await readFile(path.join(result.dir, 'x'), 'utf8')) as { headers: Record<string, string> };
    assert.equal(echoed.headers['x-client'], '127.0.0.1');
    assert.match(result.log, /stream 0x0 \[x-edge: switchyard\]/);
    await edge.waitForLine((l) => l.log === 'access' && l.path === '/filtered/x' && l.protocol === 'h3' && l.status === 200);
  });

  it('proxies to an h2c pool stream to stream (the HTTP/2 upstream core), logged as h3', async () => {
    const result = await fetchH3(['/h2up/thing']);
    const echoed = JSON.parse(await readFile(path.join(result.dir, 'thing'), 'utf8')) as { origin: string; path: string; headers: Record<string, string> };
    assert.equal(echoed.origin, 'h2o');
    assert.equal(echoed.path, '/h2up/thing');
    assert.equal(echoed.headers['x-forwarded-proto'], 'https');
    const line = await edge.waitForLine((l) => l.log === 'access' && l.path === '/h2up/thing' && l.protocol === 'h3');
    assert.equal(line.status, 200);
    assert.equal(line.pool, 'grpcish');
  });

  it('carries a POST body to the origin byte for byte', async () => {
    const body = randomBytes(700 * 1024);
    const dir = await mkdtemp(path.join(tmpdir(), 'sy-h3-body-'));
    clientDirs.push(dir);
    const file = path.join(dir, 'body.bin');
    await writeFile(file, body);
    const result = await fetchH3(['/api/upload'], ['-m', 'POST', `--data=${file}`]);
    const echoed = JSON.parse(await readFile(path.join(result.dir, 'upload'), 'utf8')) as { method: string; bodyLength: number; bodySha256: string };
    assert.equal(echoed.method, 'POST');
    assert.equal(echoed.bodyLength, body.length);
    assert.equal(echoed.bodySha256, createHash('sha256').update(body).digest('hex'));
    const line = await edge.waitForLine((l) => l.log === 'access' && l.path === '/api/upload' && l.protocol === 'h3');
    assert.equal(line.bytes_in, body.length);
  });

  it('streams a large chunked response with flow control both ways', async () => {
    const size = 6 * 1024 * 1024;
    const result = await fetchH3([`/api/stream?bytes=${size}`]);
    const got = await readFile(path.join(result.dir, `stream?bytes=${size}`));
    assert.equal(got.length, size);
    assert.ok(got.every((byte) => byte === 0x78));
    const line = await edge.waitForLine((l) => l.log === 'access' && l.path === '/api/stream' && l.protocol === 'h3');
    assert.equal(line.bytes_out, size);
  });

  it('advertises HTTP/3 with Alt-Svc on the TCP listener (HTTP/1.1 and HTTP/2)', async () => {
    for (const version of ['--http1.1', '--http2']) {
      const { stdout } = await run('curl', ['-sk', version, '-D', '-', '-o', '/dev/null', `https://127.0.0.1:${port}/api/x`], { timeout: 15_000 });
      const values = stdout.split('\r\n').filter((l) => /^alt-svc:/i.test(l));
      assert.deepEqual(values.map((l) => l.slice(l.indexOf(':') + 1).trim()), [`h3=":${port}"; ma=86400`], `${version}: ${stdout}`);
    }
  });

  it('costs nothing for garbage datagrams: the worker lives and serves the next client', async () => {
    const served = async (): Promise<unknown> => {
      const from = edge.lines.length;
      const result = await fetchH3(['/fixed']);
      assert.equal(await readFile(path.join(result.dir, 'fixed'), 'utf8'), 'fixed answer');
      const line = await edge.waitForLine((l) => edge.lines.indexOf(l) >= from && l.log === 'access' && l.path === '/fixed' && l.protocol === 'h3');
      return line.pid;
    };
    const worker = await served();
    const socket = dgram.createSocket('udp4');
    const shapes = [
      () => randomBytes(1 + Math.floor(Math.random() * 1400)),
      // long header, QUIC v1, Initial type, random rest: parses as an Initial, never decrypts
      () => Object.assign(randomBytes(1200), { 0: 0xc3, 1: 0, 2: 0, 3: 0, 4: 1, 5: 8 }),
      // a version nobody speaks
      () => Object.assign(randomBytes(1200), { 0: 0xc0, 1: 0x1a, 2: 0x2a, 3: 0x3a, 4: 0x4a }),
      // short header for a connection that does not exist (answered by a stateless reset)
      () => Object.assign(randomBytes(60), { 0: 0x40 }),
      () => Buffer.alloc(0),
    ];
    const count = 3000;
    await new Promise<void>((resolve, reject) => {
      let sent = 0;
      for (let i = 0; i < count; i++) {
        socket.send(shapes[i % shapes.length](), port, '127.0.0.1', (err) => {
          if (err) reject(err);
          else if (++sent === count) resolve();
        });
      }
    });
    socket.close();
    assert.equal(await served(), worker, 'the same worker process serves after the garbage');
    assert.equal(edge.process.exitCode, null);
    // the listener's status (admin API, per worker) counts them; no connection state was kept for them
    const token = (await readFile(path.join(edge.dir, 'data', 'admin.token'), 'utf8')).trim();
    const response = await fetch(`http://127.0.0.1:${edge.ready.admin!.port}/api/status`, { headers: { authorization: `Bearer ${token}` } });
    const status = (await response.json()) as { traffic: { listeners: { web: { h3: { stats: { datagrams: number; handshaking: number; connections: number; retries_sent: number; stateless_resets_sent: number } } } } }[] };
    const stats = status.traffic[0].listeners.web.h3.stats;
    assert.ok(stats.datagrams >= count, JSON.stringify(stats));
    assert.ok(stats.stateless_resets_sent > 0 && stats.stateless_resets_sent <= 1000, JSON.stringify(stats));
    assert.ok(stats.retries_sent >= 2, JSON.stringify(stats));
    assert.equal(stats.handshaking, 0, JSON.stringify(stats));
  });

  it('serves Chromium forced to QUIC: the page arrives over h3, its POST too; an oversized head gets 431; an abandoned download ends its exchange', async () => {
    assert.ok(chromiumPath, 'chromium is not installed (npm test installs it: scripts/ensure-test-tools.ts)');
    const leaf = new X509Certificate(await readFile(path.join(edge.dir, 'data', 'tls', 'web.pem')));
    const spki = createHash('sha256').update(leaf.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [...chromiumArgs, '--enable-quic', `--origin-to-force-quic-on=127.0.0.1:${port}`, `--ignore-certificate-errors-spki-list=${spki}`],
    });
    try {
      const page = await browser.newPage();
      const response = await page.goto(`https://127.0.0.1:${port}/api/page`);
      assert.equal(response?.status(), 200);
      // evaluated in the page (a string: this file has no DOM types)
      const protocol = await page.evaluate('performance.getEntriesByType("navigation")[0].nextHopProtocol');
      assert.equal(protocol, 'h3');
      const echoed = JSON.parse(await page.evaluate<string>('document.body.innerText')) as { headers: Record<string, string> };
      assert.equal(echoed.headers['x-forwarded-proto'], 'https');
      await edge.waitForLine((l) => l.log === 'access' && l.path === '/api/page' && l.protocol === 'h3' && l.status === 200);
      // from the page, on the same QUIC connection: a POST body, and a head over limits.max_header_size (16kb)
      assert.equal(await page.evaluate(`fetch('/api/form', { method: 'POST', body: 'x'.repeat(300000) }).then((r) => r.json()).then((j) => j.bodyLength)`), 300000);
      assert.equal(await page.evaluate(`fetch('/api/big', { headers: { 'x-big': 'a'.repeat(20000) } }).then((r) => r.status)`), 431);
      assert.equal(await page.evaluate('performance.getEntriesByType("resource").map((e) => e.nextHopProtocol).join()'), 'h3,h3');
      // a download the page abandons after its first chunk: the stream is reset, the exchange aborted
      // (the upstream stops, the line shows what was sent), and the connection serves the next request
      const total = 200_000_000;
      await page.evaluate(`(async () => { const c = new AbortController(); const r = await fetch('/api/huge?bytes=${total}', { signal: c.signal }); await r.body.getReader().read(); c.abort(); })()`);
      const abandoned = await edge.waitForLine((l) => l.log === 'access' && l.path === '/api/huge' && l.protocol === 'h3');
      assert.ok((abandoned.bytes_out as number) < total, JSON.stringify(abandoned));
      assert.equal(await page.evaluate(`fetch('/fixed').then((r) => r.text())`), 'fixed answer');
    } finally {
      await browser.close();
    }
  });
});

describe('http3 request body against a slow origin', { timeout: 120_000 }, () => {
  it('holds the QUIC window while the upstream is full and delivers every byte in order', async () => {
    // an origin that stops reading after the first chunk for a while: the upstream socket fills, the edge
    // pauses the HTTP/3 body (flow control held in the addon), then resumes when the origin reads again
    const origin = http.createServer((req, res) => {
      const hash = createHash('sha256');
      let length = 0;
      req.once('data', () => {
        req.pause();
        setTimeout(() => req.resume(), 700);
      });
      req.on('data', (chunk: Buffer) => {
        length += chunk.length;
        hash.update(chunk);
      });
      req.on('end', () => res.end(JSON.stringify({ length, sha256: hash.digest('hex') })));
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const edge = await runSwitchyard(`
pools:
  slow: { backends: [ { address: "127.0.0.1:${(origin.address() as AddressInfo).port}" } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true }
    http3: true
    limits: { max_body_size: 64mb }
    routes:
      - { match: { path_prefix: / }, pool: slow }
`);
    const dirs: string[] = [];
    try {
      const body = randomBytes(24 * 1024 * 1024);
      const dir = await mkdtemp(path.join(tmpdir(), 'sy-h3-slow-'));
      dirs.push(dir);
      await writeFile(path.join(dir, 'body.bin'), body);
      const result = await gtlsclient(edge.ready.listeners.web.port, ['/upload'], ['-m', 'POST', `--data=${path.join(dir, 'body.bin')}`, '--timeout=30s']);
      dirs.push(result.dir);
      assert.equal(result.code, 0, result.log.slice(-3000));
      const echoed = JSON.parse(await readFile(path.join(result.dir, 'upload'), 'utf8')) as { length: number; sha256: string };
      assert.equal(echoed.length, body.length);
      assert.equal(echoed.sha256, createHash('sha256').update(body).digest('hex'));
    } finally {
      await edge.stop();
      const closed = new Promise<void>((resolve) => origin.close(() => resolve()));
      origin.closeAllConnections();
      await closed;
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    }
  });
});

describe('http3 without the addon', { timeout: 60_000 }, () => {
  it('check and start refuse http3: true and name the Debian packages', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sy-h3-check-'));
    try {
      const file = path.join(dir, 'edge.yaml');
      await writeFile(file, `
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true }
    http3: true
    routes: [ { respond: { status: 200, body: ok } } ]
`);
      // a path where no addon is: the same as a host where it could not be built
      const env = { ...process.env, SWITCHYARD_H3_ADDON: path.join(dir, 'missing.node') };
      for (const command of ['check', 'start']) {
        const outcome = await run(node24, [cliEntry, command, '-c', file], { cwd: dir, env, timeout: 30_000 }).then(
          ({ stdout, stderr }) => ({ code: 0, text: stdout + stderr }),
          (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, text: (err.stdout ?? '') + (err.stderr ?? '') }),
        );
        assert.notEqual(outcome.code, 0, `${command} accepted http3 without the addon:\n${outcome.text}`);
        assert.match(outcome.text, /listeners\[0\]\.http3|listeners\.0\.http3/, `${command}: ${outcome.text}`);
        assert.match(outcome.text, /libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev/, `${command}: ${outcome.text}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('http3 across reload and shutdown', { timeout: 120_000 }, () => {
  it('a reload turns HTTP/3 on; on SIGTERM new connections are refused and the request in flight finishes', async () => {
    // an origin that holds /slow until the test releases it: the request is in flight for as long as needed
    let arrived!: () => void;
    const slowArrived = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const origin = http.createServer((req, res) => {
      req.resume();
      if (req.url?.startsWith('/slow')) {
        arrived();
        void released.then(() => res.end('slow answer'));
      } else res.end('ok');
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const originPort = (origin.address() as AddressInfo).port;
    const config = (http3: string): string => `
pools:
  web: { backends: [ { address: "127.0.0.1:${originPort}" } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true }
    http3: ${http3}
    routes:
      - { match: { path_prefix: / }, pool: web }
`;
    const edge = await runSwitchyard(config('false'));
    const dirs: string[] = [];
    try {
      const port = edge.ready.listeners.web.port;
      const { stdout } = await run('curl', ['-sk', '-D', '-', '-o', '/dev/null', `https://127.0.0.1:${port}/`], { timeout: 15_000 });
      assert.doesNotMatch(stdout, /alt-svc/i, 'no Alt-Svc while HTTP/3 is off');
      await writeFile(edge.configFile, config('true'));
      const earlier = new Set(edge.lines);
      edge.process.kill('SIGHUP');
      await edge.waitForLine((line) => line.msg === 'reloaded' && !earlier.has(line));
      const first = await gtlsclient(port, ['/after-reload']);
      dirs.push(first.dir);
      assert.equal(first.code, 0, first.log.slice(-3000));
      assert.equal(await readFile(path.join(first.dir, 'after-reload'), 'utf8'), 'ok');

      const slow = gtlsclient(port, ['/slow']);
      await slowArrived;
      edge.process.kill('SIGTERM');
      await edge.waitForLine((line) => typeof line.msg === 'string' && line.msg.startsWith('shutting down'));
      // draining: a new connection is refused (CONNECTION_CLOSE with CONNECTION_REFUSED), no state is kept
      const refused = await gtlsclient(port, ['/late']);
      dirs.push(refused.dir);
      assert.match(refused.log, /CONNECTION_REFUSED/);
      assert.deepEqual(await readdir(refused.dir), []);
      release();
      const result = await slow;
      dirs.push(result.dir);
      assert.equal(result.code, 0, result.log.slice(-3000));
      assert.equal(await readFile(path.join(result.dir, 'slow'), 'utf8'), 'slow answer');
      const line = await edge.waitForLine((l) => l.log === 'access' && l.path === '/slow' && l.protocol === 'h3', 15_000);
      assert.equal(line.status, 200);
    } finally {
      release();
      await edge.stop();
      const closed = new Promise<void>((resolve) => origin.close(() => resolve()));
      origin.closeAllConnections();
      await closed;
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    }
  });
});
