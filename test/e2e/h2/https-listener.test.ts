// The https listener end to end with real clients, in front of HTTP/1.1 origins (the L7 core's upstream
// path): ALPN h2 and http/1.1 on one port, many streams per connection each balanced on its own,
// forwarded headers (X-Forwarded-Proto https), flow control through the HTTP/1.1 bridge, the access log,
// non-TLS input, and the h2c listener (prior knowledge, HTTP/1.1 fallback).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';
import { startEdge, type Edge } from './edge.ts';
import { parseConfigText } from '../../../src/config/index.ts';
import { silentLogger } from '../../../src/core/index.ts';
import { createHttpListener } from '../../../src/l7/index.ts';
import { makeCert, tempDir } from '../tls/support.ts';
import { connectRaw, frame, frameType, flag, getHeaders, rstStream } from '../../support/h2-frames.ts';

function run(command: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 20_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }));
  });
}

const poolsYaml = (origins: EchoOrigin[]) => `
pools:
  web:
    backends: [ ${origins.map((origin) => `{ address: "${origin.address}" }`).join(', ')} ]
`;

describe('https listener in front of HTTP/1.1 origins', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  let origins: EchoOrigin[];
  let edge: Edge;
  let ca: string;

  before(async () => {
    dir = await tempDir('sy-https-');
    const cert = await makeCert(dir.dir, 'site', ['site.test', '*.site.test']);
    ca = cert.caCert;
    origins = [await startEchoOrigin({ name: 'o1' }), await startEchoOrigin({ name: 'o2' }), await startEchoOrigin({ name: 'o3' })];
    edge = await startEdge(
      `${poolsYaml(origins)}
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls: { certificates: [ { cert: tls/site.pem, key: tls/site.key } ] }
    routes:
      - { match: { path: /fixed }, respond: { status: 201, body: '{"made":true}', content_type: application/json, headers: { X-Fixed: yes } } }
      - { match: { path: /missing-type }, respond: { status: 200, body: plain } }
      - { match: { path_prefix: / }, pool: web }
`,
      { baseDir: dir.dir, dataDir: dir.dir },
    );
  });

  after(async () => {
    await edge?.close();
    for (const origin of origins ?? []) await origin.close();
    await dir?.remove();
  });

  const url = (path: string) => `https://site.test:${edge.port}${path}`;
  const resolve = () => `site.test:${edge.port}:127.0.0.1`;

  it('curl --http2: the request reaches the HTTP/1.1 origin with forwarded headers', async () => {
    const result = await run('curl', ['-sS', '-i', '--http2', '--cacert', ca, '--resolve', resolve(), url('/hello?q=1')]);
    assert.match(result.out, /^HTTP\/2 200/, result.out);
    const body = JSON.parse(result.out.slice(result.out.indexOf('{')));
    assert.equal(body.url, '/hello?q=1');
    assert.equal(body.headers['x-forwarded-proto'], 'https');
    assert.equal(body.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(body.headers.host, `site.test:${edge.port}`);
    assert.equal(body.headers.connection ?? 'keep-alive', 'keep-alive');
    const line = edge.accessLines.find((entry) => entry.path === '/hello?q=1' || entry.path === '/hello');
    assert.ok(line, 'the L7 access log has the HTTP/2 request');
  });

  it('curl --http1.1 over TLS on the same port (ALPN http/1.1) uses the L7 core', async () => {
    const result = await run('curl', ['-sS', '-i', '--http1.1', '--cacert', ca, '--resolve', resolve(), url('/h1')]);
    assert.match(result.out, /^HTTP\/1\.1 200/, result.out);
    const body = JSON.parse(result.out.slice(result.out.indexOf('{')));
    assert.equal(body.headers['x-forwarded-proto'], 'https');
  });

  it('curl --http2: a fixed response (respond route) with its own content-type and headers', async () => {
    // the route's content-type replaces the edge's plain-text default (two would be a malformed HTTP/2 head)
    const fixed = await run('curl', ['-sS', '-i', '--http2', '--cacert', ca, '--resolve', resolve(), url('/fixed')]);
    assert.match(fixed.out, /^HTTP\/2 201/, fixed.out);
    assert.match(fixed.out, /^content-type: application\/json\r$/m);
    assert.equal(fixed.out.match(/^content-type:/gm)?.length, 1, fixed.out);
    assert.match(fixed.out, /^x-fixed: yes\r$/m);
    assert.match(fixed.out, /^content-length: 13\r$/m);
    assert.ok(fixed.out.endsWith('{"made":true}'), fixed.out);
    const plain = await run('curl', ['-sS', '-i', '--http2', '--cacert', ca, '--resolve', resolve(), url('/missing-type')]);
    assert.match(plain.out, /^HTTP\/2 200/, plain.out);
    assert.match(plain.out, /^content-type: text\/plain; charset=utf-8\r$/m);
    assert.ok(plain.out.endsWith('\r\n\r\nplain'), plain.out);
  });

  it('HEAD over HTTP/2: the head with its content-length, no body, the stream ends', async () => {
    const result = await run('curl', ['-sS', '-I', '--http2', '--cacert', ca, '--resolve', resolve(), url('/head?body=twelve-bytes')]);
    assert.match(result.out, /^HTTP\/2 200/);
    assert.match(result.out, /content-length: 12/);
  });

  it('a POST body goes up through the HTTP/2 stream intact', async () => {
    const payload = Buffer.alloc(300_000, 'p');
    const file = `${dir.dir}/payload.bin`;
    await import('node:fs/promises').then((fs) => fs.writeFile(file, payload));
    const result = await run('curl', ['-sS', '--http2', '--cacert', ca, '--resolve', resolve(), '--data-binary', `@${file}`, url('/upload')]);
    const body = JSON.parse(result.out);
    assert.equal(body.method, 'POST');
    assert.equal(body.bodyLength, payload.length);
  });

  it('nghttp: 30 streams on one connection, balanced across the three origins', async () => {
    const before = origins.map((origin) => origin.requests());
    const urls = Array.from({ length: 30 }, (_, i) => `https://127.0.0.1:${edge.port}/s${i}`);
    const result = await run('nghttp', ['-n', '-v', ...urls]);
    assert.equal((result.out.match(/recv \(stream_id=\d+\) :status: 200/g) ?? []).length, 30, result.out.slice(-1500));
    assert.equal((result.out.match(/Connected/g) ?? []).length, 1);
    origins.forEach((origin, i) => assert.equal(origin.requests() - before[i], 10, `origin ${i} got a third of the streams`));
  });

  it('flow control: a stalled stream does not hold up another one on the same connection', async () => {
    const client = http2.connect(`https://site.test:${edge.port}`, { ca: await readFile(ca), lookup: (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }] as never) });
    try {
      const slow = client.request({ ':path': '/slow?bytes=8388608' });
      let slowBytes = 0;
      slow.on('data', (chunk: Buffer) => {
        slowBytes += chunk.length;
        slow.pause();
      });
      await new Promise((r) => slow.once('response', r));
      const fast = client.request({ ':path': '/fast?bytes=2097152' });
      let fastBytes = 0;
      fast.on('data', (chunk: Buffer) => (fastBytes += chunk.length));
      await new Promise((r, reject) => {
        fast.once('end', r);
        fast.once('error', reject);
      });
      assert.equal(fastBytes, 2_097_152);
      assert.ok(slowBytes < 8_388_608);
      slow.close();
    } finally {
      client.close();
    }
  });

  it('h2load over TLS: 10 connections × 10 streams, every request succeeds', async () => {
    const result = await run('h2load', ['-n', '1000', '-c', '10', '-m', '10', `https://127.0.0.1:${edge.port}/load`]);
    assert.match(result.out, /requests: 1000 total, 1000 started, 1000 done, 1000 succeeded, 0 failed/, result.out);
  });

  it('composes with an HTTP → HTTPS redirect route on an http listener (curl -L)', async () => {
    const { config } = parseConfigText(
      `
listeners:
  - name: plain
    listen: 127.0.0.1:0
    protocol: http
    routes: [ { match: { path_prefix: / }, redirect: { scheme: https, port: ${edge.port}, status: 308 } } ]
`,
      'redirect.yaml',
      dir.dir,
    );
    const plain = createHttpListener(config.listeners[0], { pools: new Map(), accessLog: silentLogger(), logger: silentLogger() });
    await plain.start();
    try {
      const port = plain.address().port;
      const result = await run('curl', ['-sS', '-L', '-i', '--http2', '--cacert', ca, '--resolve', `site.test:${port}:127.0.0.1`, '--resolve', resolve(), `http://site.test:${port}/moved?x=1`]);
      assert.match(result.out, /^HTTP\/1\.1 308/);
      assert.match(result.out, new RegExp(`location: https://site\\.test:${edge.port}/moved\\?x=1`, 'i'));
      assert.match(result.out, /HTTP\/2 200/);
      assert.match(result.out, /"url":"\/moved\?x=1"/);
    } finally {
      await plain.stop();
    }
  });

  it('over TLS: a rapid-reset client is cut with GOAWAY(ENHANCE_YOUR_CALM), bad HPACK with COMPRESSION_ERROR, and neither reaches an origin', async () => {
    const before = origins.reduce((sum, origin) => sum + origin.requests(), 0);
    const flood = await connectRaw(edge.port, true);
    for (let i = 0, id = 1; i < 1000 && !flood.socket.destroyed; i++, id += 2) {
      flood.socket.write(Buffer.concat([getHeaders(id, '/flood', 'site.test', false), rstStream(id)]));
    }
    assert.equal(await flood.goaway, 0xb);
    await flood.closed;
    const hpack = await connectRaw(edge.port, true);
    hpack.socket.write(frame(frameType.HEADERS, flag.END_HEADERS | flag.END_STREAM, 1, Buffer.from([0xff, 0xff, 0xff, 0x7f])));
    assert.equal(await hpack.goaway, 0x9);
    await hpack.closed;
    const after = origins.reduce((sum, origin) => sum + origin.requests(), 0);
    assert.ok(after - before < 1000, `the flood did not turn into ${after - before} upstream requests`);
  });

  it('closes a plain-text client on the TLS port and keeps serving', async () => {
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(edge.port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(text));
    });
    assert.doesNotMatch(reply, /HTTP\/1\.1 200/);
    const after = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--http2', '--cacert', ca, '--resolve', resolve(), url('/after')]);
    assert.equal(after.out, '200');
  });
});

describe('h2c listener in front of HTTP/1.1 origins', () => {
  for (const engine of ['auto', 'node'] as const)
  it(`serves HTTP/2 prior knowledge and falls back to HTTP/1.1 for other clients (http2.engine: ${engine})`, async (t) => {
    const dir = await tempDir('sy-h2c-');
    t.after(() => dir.remove());
    const origin = await startEchoOrigin({ name: 'o' });
    t.after(() => origin.close());
    const edge = await startEdge(
      `${poolsYaml([origin])}
listeners:
  - name: inner
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: ${engine} }
    routes: [ { match: { path_prefix: / }, pool: web } ]
`,
      { baseDir: dir.dir, dataDir: dir.dir },
    );
    t.after(() => edge.close());
    assert.equal((edge.listener.status() as { h2_engine: string }).h2_engine, engine === 'auto' ? 'codec' : 'node');
    const h2 = await run('curl', ['-sS', '-i', '--http2-prior-knowledge', `http://127.0.0.1:${edge.port}/p`]);
    assert.match(h2.out, /^HTTP\/2 200/, h2.out);
    assert.equal(JSON.parse(h2.out.slice(h2.out.indexOf('{'))).headers['x-forwarded-proto'], 'http');
    const h1 = await run('curl', ['-sS', '-i', `http://127.0.0.1:${edge.port}/q`]);
    assert.match(h1.out, /^HTTP\/1\.1 200/, h1.out);
  });
});
