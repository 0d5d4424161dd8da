// HSTS on HTTP/1.1 over TLS: an https listener with `tls.hsts` adds Strict-Transport-Security to every
// response head the L7 core writes (proxied, redirect, fixed, static, 404, 502, bad request), with curl
// --http1.1 (ALPN http/1.1) as the client, and the same responses over HTTP/2 through the codec (curl
// --http2); an upstream's own header is replaced, never duplicated; an http listener never sends it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { refusedPort, startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';
import { startEdge, type Edge } from '../h2/edge.ts';
import { startProxy, type TestProxy } from '../l7/helpers.ts';
import { makeCert, run, tempDir } from './support.ts';

const routes = `
    routes:
      - { match: { path_prefix: /go }, redirect: { to: "https://elsewhere.test/" } }
      - { match: { path_prefix: /fixed }, respond: { status: 200, body: fixed } }
      - { match: { path_prefix: /files/ }, static: { root: ./public }, strip_prefix: /files }
      - { match: { path_prefix: /down }, pool: down }
      - { match: { path_prefix: /api }, pool: web }
`;

const hstsLines = (head: string) => head.split('\r\n').filter((line) => /^strict-transport-security:/i.test(line));

describe('hsts on HTTP/1.1 over TLS', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  let origin: EchoOrigin;
  let plain: Edge;
  let detailed: Edge;
  let ca: string;

  before(async () => {
    dir = await tempDir('sy-hsts-');
    ca = (await makeCert(dir.dir, 'site', ['site.test'])).caCert;
    await mkdir(path.join(dir.dir, 'public'), { recursive: true });
    await writeFile(path.join(dir.dir, 'public', 'a.txt'), 'static file\n');
    origin = await startEchoOrigin({ name: 'o1' });
    const pools = `
pools:
  web: { backends: [ { address: "${origin.address}" } ] }
  down: { backends: [ { address: "127.0.0.1:${await refusedPort()}" } ] }
`;
    const listener = (hsts: string) => `${pools}
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls: { hsts: ${hsts}, certificates: [ { cert: tls/site.pem, key: tls/site.key } ] }
${routes}`;
    plain = await startEdge(listener('true'), { baseDir: dir.dir, dataDir: dir.dir });
    detailed = await startEdge(listener('{ max_age: 1h, include_subdomains: true }'), { baseDir: dir.dir, dataDir: dir.dir });
  });

  after(async () => {
    await plain?.close();
    await detailed?.close();
    await origin?.close();
    await dir?.remove();
  });

  const curl = (edge: Edge, target: string, extra: string[] = []) =>
    run('curl', ['-sS', '-i', '--http1.1', '--cacert', ca, '--resolve', `site.test:${edge.port}:127.0.0.1`, ...extra, `https://site.test:${edge.port}${target}`]);

  it('hsts: true — every kind of response carries max-age one year, once', async () => {
    const cases: [string, RegExp][] = [
      ['/api/x', /^HTTP\/1\.1 200/],
      ['/go', /^HTTP\/1\.1 30[1278]/],
      ['/fixed', /^HTTP\/1\.1 200/],
      ['/files/a.txt', /^HTTP\/1\.1 200/],
      ['/nothing-routes-here', /^HTTP\/1\.1 404/],
      ['/down', /^HTTP\/1\.1 502/],
      // the upstream's own header is replaced by the listener's
      ['/api/own?header=strict-transport-security:max-age=5', /^HTTP\/1\.1 200/],
    ];
    for (const [target, status] of cases) {
      const result = await curl(plain, target);
      assert.match(result.out, status, `${target}: ${result.out}`);
      assert.deepEqual(hstsLines(result.out), ['strict-transport-security: max-age=31536000'], `${target}: ${result.out}`);
    }
  });

  it('over HTTP/2 (the codec) every kind of response carries it once as well', async () => {
    assert.equal((plain.listener.status() as { h2_engine: string }).h2_engine, 'codec');
    for (const [target, status] of [
      ['/api/x', /^HTTP\/2 200/],
      ['/go', /^HTTP\/2 30[1278]/],
      ['/fixed', /^HTTP\/2 200/],
      ['/files/a.txt', /^HTTP\/2 200/],
      ['/nothing-routes-here', /^HTTP\/2 404/],
      ['/down', /^HTTP\/2 502/],
      ['/api/own?header=strict-transport-security:max-age=5', /^HTTP\/2 200/],
    ] as const) {
      const result = await run('curl', ['-sS', '-i', '--http2', '--cacert', ca, '--resolve', `site.test:${plain.port}:127.0.0.1`, `https://site.test:${plain.port}${target}`]);
      assert.match(result.out, status, `${target}: ${result.out}`);
      assert.deepEqual(hstsLines(result.out), ['strict-transport-security: max-age=31536000'], `${target}: ${result.out}`);
    }
  });

  it('keep-alive: both responses on one connection carry it', async () => {
    const result = await run('curl', ['-sS', '-i', '--http1.1', '--cacert', ca, '--resolve', `site.test:${plain.port}:127.0.0.1`, `https://site.test:${plain.port}/api/1`, `https://site.test:${plain.port}/fixed`]);
    assert.equal(hstsLines(result.out).length, 2, result.out);
  });

  it('hsts: { max_age: 1h, include_subdomains: true }', async () => {
    for (const target of ['/api/x', '/go', '/nothing-routes-here']) {
      const result = await curl(detailed, target);
      assert.deepEqual(hstsLines(result.out), ['strict-transport-security: max-age=3600; includeSubDomains'], `${target}: ${result.out}`);
    }
  });

  it('a bad request on the TLS port (400) carries it too', async () => {
    const result = await run('openssl', ['s_client', '-quiet', '-connect', `127.0.0.1:${plain.port}`, '-alpn', 'http/1.1', '-servername', 'site.test'], 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    assert.match(result.out, /HTTP\/1\.1 400/, result.out);
    assert.deepEqual(hstsLines(result.out), ['strict-transport-security: max-age=31536000'], result.out);
  });
});

describe('hsts never on an http listener', () => {
  let origin: EchoOrigin;
  let proxy: TestProxy;

  before(async () => {
    origin = await startEchoOrigin();
    proxy = await startProxy(
      { routes: [{ match: { path_prefix: '/fixed' }, respond: { body: 'x' } }, { pool: 'web' }] },
      { web: { backends: [{ address: origin.address }] } },
    );
  });

  after(async () => {
    await proxy?.stop();
    await origin?.close();
  });

  it('proxied and local responses have no Strict-Transport-Security', async () => {
    for (const target of ['/a', '/fixed']) {
      const result = await run('curl', ['-sS', '-i', '--http1.1', `http://127.0.0.1:${proxy.port}${target}`]);
      assert.match(result.out, /^HTTP\/1\.1 200/, result.out);
      assert.equal(hstsLines(result.out).length, 0, result.out);
    }
    // an upstream's own header passes through untouched on a plain listener
    const own = await run('curl', ['-sS', '-i', '--http1.1', `http://127.0.0.1:${proxy.port}/a?header=strict-transport-security:max-age=5`]);
    assert.deepEqual(hstsLines(own.out), ['strict-transport-security: max-age=5'], own.out);
  });
});
