// HTTP/1.1 requests routed to pools that speak HTTP/2 (protocol h2c): curl --http1.1 against an https
// listener (ALPN http/1.1) and against a plain http listener reaches a node:http2 origin; status, headers
// and body come back (Content-Length kept, else chunked), request bodies go up (Content-Length and chunked),
// trailers are dropped unless the client sent TE: trailers, and an unreachable backend answers 502.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type Http2Server } from 'node:http2';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { refusedPort } from '../../support/origins.ts';
import { silentLogger } from '../../../src/core/index.ts';
import { H2ForeignUpstreams } from '../../../src/h2/index.ts';
import { startEdge, type Edge } from './edge.ts';
import { startProxy, type TestProxy } from '../l7/helpers.ts';
import { makeCert, run, tempDir } from '../tls/support.ts';

interface Origin {
  server: Http2Server;
  address: string;
  streams: () => number;
  /** Bytes the /many stream has handed to node:http2 so far (it honours backpressure). */
  manyWritten: () => number;
  /** Resolves with the RST_STREAM code of the next /forever stream when it closes. */
  foreverClosed: () => Promise<number>;
  close: () => Promise<void>;
}

/** /info: JSON of what arrived; /fixed: a body with content-length; /echo: the body back, its sha256 as a trailer; /big: 1 MiB, no length. */
async function startOrigin(): Promise<Origin> {
  const server = http2.createServer();
  let streams = 0;
  let foreverWaiter: ((code: number) => void) | undefined;
  let manyWritten = 0;
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    streams++;
    stream.on('error', () => undefined);
    const path = String(headers[':path']);
    if (path.startsWith('/echo')) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        stream.respond({ ':status': 201, 'content-type': 'application/octet-stream', trailer: 'x-sha256' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-sha256': createHash('sha256').update(body).digest('hex') }));
        stream.end(body);
      });
      return;
    }
    if (path.startsWith('/hang')) return void stream.resume();
    if (path.startsWith('/forever')) {
      stream.respond({ ':status': 200 });
      const timer = setInterval(() => stream.write(Buffer.alloc(16 * 1024, 'f')), 20);
      stream.on('close', () => {
        clearInterval(timer);
        foreverWaiter?.(stream.rstCode ?? -1);
      });
      return;
    }
    if (path.startsWith('/fixed')) {
      stream.respond({ ':status': 202, 'content-length': '5', 'x-kind': 'fixed' });
      stream.end('fixed');
      return;
    }
    if (path.startsWith('/many')) {
      stream.respond({ ':status': 200, 'content-length': String(MANY) });
      const chunk = Buffer.alloc(16 * 1024, 'm');
      const pump = () => {
        while (manyWritten < MANY) {
          manyWritten += chunk.length;
          if (!stream.write(chunk)) return void stream.once('drain', pump);
        }
        stream.end();
      };
      pump();
      return;
    }
    if (path.startsWith('/big')) {
      stream.respond({ ':status': 200 });
      const chunk = Buffer.alloc(64 * 1024, 'b');
      let left = 16;
      const pump = () => {
        while (left > 0) {
          left--;
          if (!stream.write(chunk)) return void stream.once('drain', pump);
        }
        stream.end();
      };
      pump();
      return;
    }
    stream.resume();
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify({ path, method: headers[':method'], authority: headers[':authority'], scheme: headers[':scheme'], headers }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    address: `127.0.0.1:${port}`,
    streams: () => streams,
    manyWritten: () => manyWritten,
    foreverClosed: () => new Promise<number>((resolve) => (foreverWaiter = resolve)),
    close: async () => {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// run() appends a newline and stderr after stdout
const MANY = 32 * 1024 * 1024;

const bodyOf = (out: string) => out.slice(out.indexOf('\r\n\r\n') + 4).replace(/\n$/, '');

describe('HTTP/1.1 over TLS to an h2c pool', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  let origin: Origin;
  let edge: Edge;
  let ca: string;

  before(async () => {
    dir = await tempDir('sy-h1-h2-');
    ca = (await makeCert(dir.dir, 'site', ['site.test'])).caCert;
    origin = await startOrigin();
    edge = await startEdge(
      `
pools:
  h2pool: { protocol: h2c, backends: [ { address: "${origin.address}" } ] }
  gone: { protocol: h2c, backends: [ { address: "127.0.0.1:${await refusedPort()}" } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls: { hsts: true, certificates: [ { cert: tls/site.pem, key: tls/site.key } ] }
    timeouts: { upstream_response: 400ms }
    routes:
      - { match: { path_prefix: /gone }, pool: gone }
      - { match: { path_prefix: /api }, pool: h2pool, strip_prefix: /api }
`,
      { baseDir: dir.dir, dataDir: dir.dir },
    );
  });

  after(async () => {
    await edge?.close();
    await origin?.close();
    await dir?.remove();
  });

  const url = (path: string) => `https://site.test:${edge.port}${path}`;
  const curl = (args: string[]) => run('curl', ['-sS', '-i', '--http1.1', '--cacert', ca, '--resolve', `site.test:${edge.port}:127.0.0.1`, ...args]);

  it('GET: the origin answers over HTTP/2; status, body and forwarded headers as for HTTP/1.1 pools', async () => {
    const result = await curl([url('/api/info?x=1')]);
    assert.match(result.out, /^HTTP\/1\.1 200/, result.out);
    assert.match(result.out, /transfer-encoding: chunked/i, 'no content-length upstream: chunked downstream');
    assert.match(result.out, /strict-transport-security: max-age=31536000/);
    const body = JSON.parse(bodyOf(result.out));
    assert.equal(body.path, '/info?x=1', 'strip_prefix applied');
    assert.equal(body.method, 'GET');
    assert.equal(body.authority, `site.test:${edge.port}`);
    assert.equal(body.scheme, 'http');
    assert.equal(body.headers['x-forwarded-proto'], 'https');
    assert.equal(body.headers['x-forwarded-for'], '127.0.0.1');
    assert.match(body.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    assert.equal(body.headers.connection, undefined);
    assert.equal(body.headers.host, undefined, 'Host became :authority');
    const line = edge.accessLines.find((entry) => entry.path === '/api/info');
    assert.equal(line?.pool, 'h2pool');
    assert.equal(line?.status, 200);
  });

  it('a response with content-length keeps it; HEAD gets the head only', async () => {
    const result = await curl([url('/api/fixed')]);
    assert.match(result.out, /^HTTP\/1\.1 202/, result.out);
    assert.match(result.out, /content-length: 5/);
    assert.match(result.out, /x-kind: fixed/);
    assert.equal(bodyOf(result.out), 'fixed');
    const head = await curl(['-I', url('/api/fixed')]);
    assert.match(head.out, /^HTTP\/1\.1 202/, head.out);
    assert.equal(bodyOf(head.out), '');
  });

  it('POST bodies go up (Content-Length and chunked); trailers are dropped without TE: trailers', async () => {
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const file = `${dir.dir}/payload.bin`;
    await writeFile(file, payload);
    const sha = createHash('sha256').update(payload).digest('hex');
    const out = `${dir.dir}/out.bin`;
    for (const extra of [[], ['-H', 'Transfer-Encoding: chunked']]) {
      const result = await run('curl', ['-sS', '--http1.1', '--cacert', ca, '--resolve', `site.test:${edge.port}:127.0.0.1`, '-D', '-', '-o', out, '--data-binary', `@${file}`, ...extra, url('/api/echo')]);
      assert.match(result.out, /^HTTP\/1\.1 201/, result.out);
      assert.doesNotMatch(result.out, /x-sha256/, 'no trailer (nor its announcement) for a client that did not ask');
      const echoed = await readFile(out);
      assert.equal(createHash('sha256').update(echoed).digest('hex'), sha, `body intact ${JSON.stringify(extra)}`);
    }
  });

  it('TE: trailers: the trailers come as chunked trailers', async () => {
    const result = await curl(['--raw', '-H', 'TE: trailers', '--data-binary', 'abc', url('/api/echo')]);
    assert.match(result.out, /^HTTP\/1\.1 201/, result.out);
    assert.match(result.out, /\r\n0\r\nx-sha256: [0-9a-f]{64}\r\n\r\n\n?$/, result.out);
    assert.match(result.out, /\r\ntrailer: x-sha256\r\n/, 'the announcement stays when the trailers are relayed');
  });

  it('a large response streams through with backpressure; keep-alive serves a second request', async () => {
    const result = await run('curl', ['-sS', '--http1.1', '--cacert', ca, '--resolve', `site.test:${edge.port}:127.0.0.1`, '-w', '%{http_code} %{size_download} %{num_connects}\\n', '-o', '/dev/null', url('/api/big'), '-o', '/dev/null', url('/api/fixed')]);
    assert.deepEqual(result.out.trim().split('\n'), ['200 1048576 1', '202 5 0'], result.out);
  });

  it('an h2c backend that does not answer in upstream_response: 504', async () => {
    const result = await curl([url('/api/hang')]);
    assert.match(result.out, /^HTTP\/1\.1 504/, result.out);
  });

  it('HTTP/2 clients of the same listener (the codec, stream to stream): 504 for the silent backend, 200 through strip_prefix', async () => {
    assert.equal((edge.listener.status() as { h2_engine: string }).h2_engine, 'codec');
    const h2 = (path: string) => run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '--http2', '--cacert', ca, '--resolve', `site.test:${edge.port}:127.0.0.1`, url(path)]);
    assert.equal((await h2('/api/hang')).out.trim(), '2 504');
    assert.equal((await h2('/api/fixed')).out.trim(), '2 202');
  });

  it('a client that stops reading holds the upstream stream (flow control), then gets every byte', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: edge.port, servername: 'site.test', ca: await readFile(ca), ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => undefined);
    try {
      await once(socket, 'secureConnect');
      socket.write('GET /api/many HTTP/1.1\r\nHost: site.test\r\n\r\n');
      await once(socket, 'data');
      socket.pause();
      // no event says "nothing more moves": poll until the origin's count stays put (bounded: 100 × 30 ms)
      let last = -1;
      let steady = 0;
      for (let i = 0; i < 100 && steady < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        const now = origin.manyWritten();
        steady = now === last ? steady + 1 : 0;
        last = now;
      }
      assert.equal(steady, 5, 'the origin stopped writing');
      assert.ok(last < MANY / 2, `the origin is held back (${last} of ${MANY} bytes written)`);
      let received = 0;
      const headEnd = new Promise<void>((resolve) => {
        socket.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received >= MANY) resolve();
        });
      });
      socket.resume();
      await headEnd;
      assert.equal(origin.manyWritten(), MANY);
    } finally {
      socket.destroy();
    }
  });

  it('the client going away mid-response cancels the upstream stream', async () => {
    const closed = origin.foreverClosed();
    const socket = tls.connect({ host: '127.0.0.1', port: edge.port, servername: 'site.test', ca: await readFile(ca), ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => undefined);
    await once(socket, 'secureConnect');
    socket.write('GET /api/forever HTTP/1.1\r\nHost: site.test\r\n\r\n');
    await once(socket, 'data');
    socket.destroy();
    assert.equal(await closed, http2.constants.NGHTTP2_CANCEL);
  });

  it('an unreachable h2c backend answers 502', async () => {
    const result = await curl([url('/gone')]);
    assert.match(result.out, /^HTTP\/1\.1 502/, result.out);
  });
});

describe('HTTP/1.1 on an http listener to an h2c pool (H2ForeignUpstreams)', () => {
  let origin: Origin;
  let proxy: TestProxy;
  let upstreams: H2ForeignUpstreams;

  before(async () => {
    origin = await startOrigin();
    upstreams = new H2ForeignUpstreams({ baseDir: process.cwd(), logger: silentLogger(), connectTimeoutMs: 2000 });
    proxy = await startProxy({ routes: [{ pool: 'h2pool' }] }, { h2pool: { protocol: 'h2c', backends: [{ address: origin.address }] } }, { foreignUpstream: upstreams.foreignUpstream });
  });

  after(async () => {
    await proxy?.stop();
    upstreams?.close();
    await origin?.close();
  });

  it('curl --http1.1 gets the origin status and body; several requests share one upstream session', async () => {
    const before = origin.streams();
    const result = await run('curl', ['-sS', '--http1.1', '-w', '%{http_code}\\n', ...['/fixed', '/info', '/big'].flatMap((path) => ['-o', '/dev/null', `http://127.0.0.1:${proxy.port}${path}`])]);
    assert.deepEqual(result.out.trim().split('\n'), ['202', '200', '200'], result.out);
    assert.equal(origin.streams() - before, 3);
    assert.deepEqual(upstreams.sessionCounts(), { h2pool: 1 });
    const info = await run('curl', ['-sS', '--http1.1', `http://127.0.0.1:${proxy.port}/info`]);
    assert.equal(JSON.parse(info.out).headers['x-forwarded-proto'], 'http');
  });
});
