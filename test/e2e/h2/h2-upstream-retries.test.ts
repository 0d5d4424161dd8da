// Retries to pools speaking HTTP/2 (h2c, grpc) under the pool's `retries:`, as HTTP/1.1 pools read it:
// statuses in `on` retried on the next backend (not without them, not for POST unless `methods` has it),
// per_try_timeout cancelling a stalled stream, the budget bounding a storm, and gRPC retried only when
// safe (UNAVAILABLE trailers-only before any response; never after response headers), outcomes feeding
// passive ejection, and access lines with the HTTP/1.1 path's keys. HTTP/2 clients (node:http2 on both
// engines, grpc-js) and an HTTP/1.1 client against an h2c listener; node:http2 origins on loopback.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { startEdge, type Edge } from './edge.ts';
import { tempDir } from '../tls/support.ts';
import { echoClientClass, startGrpcBackend, type EchoClient, type GrpcBackend, type Msg } from '../grpc/grpc-backend.ts';

interface Origin {
  address: string;
  streams: () => number;
  /** RST_STREAM codes of the streams that closed without an answer. */
  resets: number[];
  close: () => Promise<void>;
}

type Behaviour = 'ok' | '503' | 'stall' | 'grpc-unavailable' | 'grpc-headers-then-reset';

/** An h2c origin that answers every stream the same way; `x-origin: name` on answers. */
async function startOrigin(name: string, behaviour: Behaviour): Promise<Origin> {
  const server = http2.createServer();
  let streams = 0;
  const resets: number[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream) => {
    streams++;
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('close', () => {
      if (!stream.headersSent) resets.push(stream.rstCode);
    });
    if (behaviour === 'stall') return;
    if (behaviour === 'grpc-unavailable') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'shedding' }, { endStream: true });
      return;
    }
    if (behaviour === 'grpc-headers-then-reset') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      setTimeout(() => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR), 20);
      return;
    }
    stream.on('end', () => {
      if (stream.closed) return;
      stream.respond({ ':status': behaviour === '503' ? 503 : 200, 'x-origin': name });
      stream.end(name);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    streams: () => streams,
    resets,
    close: async () => {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Answer {
  status: number;
  origin: string | undefined;
}

function request(client: http2.ClientHttp2Session, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = client.request({ ':method': method, ':path': path }, { endStream: body === undefined });
    stream.on('error', reject);
    stream.on('response', (headers) => {
      stream.resume();
      stream.on('end', () => resolve({ status: Number(headers[':status']), origin: headers['x-origin'] as string | undefined }));
    });
    if (body !== undefined) stream.end(body);
  });
}

function unary(client: EchoClient, msg: Partial<Msg>): Promise<{ error: grpc.ServiceError | null; reply?: Msg }> {
  return new Promise((resolve) => {
    (client.Unary as (m: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Msg) => void) => void)(msg, { deadline: Date.now() + 5000 }, (error, reply) => resolve({ error, reply }));
  });
}

describe('retries to HTTP/2 pools', { timeout: 30_000 }, () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let edge: Edge;
  /** The same config on node:http2 (http2.engine: node): the same upstream core behind it. */
  let nodeEdge: Edge;
  let client: http2.ClientHttp2Session;
  const origins: Record<string, Origin> = {};
  let grpcB: GrpcBackend;
  let http1: http.Server;

  before(async () => {
    temp = await tempDir('sy-h2-retries-');
    const dir = temp.dir;
    for (const [name, behaviour] of [
      ['failing', '503'],
      ['good', 'ok'],
      ['stalled', 'stall'],
      ['stalled2', 'stall'],
      ['unavailable', 'grpc-unavailable'],
      ['dying', 'grpc-headers-then-reset'],
    ] as const) {
      origins[name] = await startOrigin(name, behaviour);
    }
    grpcB = await startGrpcBackend('b');
    http1 = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('http1'));
    });
    http1.listen(0, '127.0.0.1');
    await once(http1, 'listening');
    const o = (name: string) => `{ address: "${origins[name].address}" }`;
    // round robin starts at the first backend: the failing one is listed first so the first try meets it
    const yaml = (engine: string) => `
pools:
  on503: { protocol: h2c, retries: { attempts: 1, on: [503] }, backends: [ ${o('failing')}, ${o('good')} ] }
  h1on503: { protocol: h2c, retries: { attempts: 1, on: [503] }, backends: [ ${o('failing')}, ${o('good')} ] }
  eject: { protocol: h2c, retries: { attempts: 1, on: [503] }, passive: { consecutive_failures: 2 }, backends: [ ${o('failing')}, ${o('good')} ] }
  not503: { protocol: h2c, retries: { attempts: 1, on: [reset] }, backends: [ ${o('failing')}, ${o('good')} ] }
  post503: { protocol: h2c, retries: { attempts: 1, on: [503], methods: [GET, POST] }, backends: [ ${o('failing')}, ${o('good')} ] }
  pertry: { protocol: h2c, retries: { attempts: 1, on: [timeout], per_try_timeout: 300ms }, backends: [ ${o('stalled')}, ${o('good')} ] }
  storm: { protocol: h2c, retries: { attempts: 1, on: [timeout], per_try_timeout: 300ms, budget_percent: 0 }, backends: [ ${o('stalled')}, ${o('stalled2')} ] }
  grpcsafe: { protocol: grpc, retries: { attempts: 1 }, backends: [ ${o('unavailable')}, { address: "${grpcB.address}" } ] }
  grpcdying: { protocol: grpc, retries: { attempts: 1, on: [reset, 502, 503] }, backends: [ ${o('dying')}, { address: "${grpcB.address}" } ] }
  plain: { backends: [ { address: "127.0.0.1:${(http1.address() as AddressInfo).port}" } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: ${engine} }
    timeouts: { upstream_response: 2s }
    routes:
      - { match: { path_prefix: /on503/ }, pool: on503 }
      - { match: { path_prefix: /h1on503/ }, pool: h1on503 }
      - { match: { path_prefix: /eject/ }, pool: eject }
      - { match: { path_prefix: /not503/ }, pool: not503 }
      - { match: { path_prefix: /post503/ }, pool: post503 }
      - { match: { path_prefix: /pertry/ }, pool: pertry }
      - { match: { path_prefix: /storm/ }, pool: storm }
      - { match: { path_prefix: /plain/ }, pool: plain }
      - { match: { path_prefix: /switchyard.test.Echo/, headers: { x-pool: dying } }, pool: grpcdying }
      - { match: { path_prefix: /switchyard.test.Echo/ }, pool: grpcsafe }
`;
    edge = await startEdge(yaml('auto'), { baseDir: dir, dataDir: dir });
    client = http2.connect(`http://127.0.0.1:${edge.port}`);
    nodeEdge = await startEdge(yaml('node'), { baseDir: dir, dataDir: dir });
  });

  after(async () => {
    client?.close();
    await edge?.close();
    await nodeEdge?.close();
    for (const origin of Object.values(origins)) await origin.close();
    await grpcB?.close();
    http1?.closeAllConnections();
    await new Promise((resolve) => http1?.close(resolve));
    await temp?.remove();
  });

  it('a 503 listed in on is retried on the next backend; the access line shows both tries', async () => {
    const before = origins.failing.streams();
    const answer = await request(client, 'GET', '/on503/x');
    assert.deepEqual(answer, { status: 200, origin: 'good' });
    assert.equal(origins.failing.streams(), before + 1);
    const line = edge.accessLines.find((entry) => entry.path === '/on503/x');
    assert.equal(line?.attempts, 2);
    assert.deepEqual(line?.tried, [origins.failing.address]);
    assert.equal(line?.backend, origins.good.address);
  });

  it('a 503 not in on is relayed; POST is retried only when methods has it', async () => {
    assert.deepEqual(await request(client, 'GET', '/not503/x'), { status: 503, origin: 'failing' });
    assert.deepEqual(await request(client, 'POST', '/on503/post', 'payload'), { status: 503, origin: 'failing' });
    assert.deepEqual(await request(client, 'POST', '/post503/post', 'payload'), { status: 200, origin: 'good' });
  });

  it('per_try_timeout cancels a stalled stream (RST_STREAM CANCEL) and the next backend answers', async () => {
    const started = Date.now();
    assert.deepEqual(await request(client, 'GET', '/pertry/x'), { status: 200, origin: 'good' });
    assert.ok(Date.now() - started >= 280, 'the first try was given its per-try time');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(origins.stalled.resets, [http2.constants.NGHTTP2_CANCEL]);
  });

  it('the retry budget bounds retries when a whole pool stalls', async () => {
    const before = origins.stalled.streams() + origins.stalled2.streams();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => request(client, 'GET', `/storm/${i}`)));
    assert.ok(answers.every((answer) => answer.status === 504), JSON.stringify(answers));
    const retried = edge.accessLines.filter((line) => String(line.path).startsWith('/storm/') && line.attempts === 2).length;
    // budget 0%: only the minimum of 3 retries may be in flight at once
    assert.equal(retried, 3, `retries beyond the budget: ${retried}`);
    assert.equal(origins.stalled.streams() + origins.stalled2.streams() - before, 13, 'ten first tries and three retries reached the pool');
  });

  it('gRPC: UNAVAILABLE trailers-only from the first backend is retried on the next; the client sees OK', async () => {
    const Echo = echoClientClass();
    const grpcClient = new Echo(`127.0.0.1:${edge.port}`, grpc.credentials.createInsecure());
    try {
      const before = grpcB.calls();
      const result = await unary(grpcClient, { text: 'hi', count: 1 });
      assert.equal(result.error, null);
      assert.match(result.reply!.text, /b/);
      assert.equal(origins.unavailable.streams(), 1);
      assert.equal(grpcB.calls(), before + 1);
    } finally {
      grpcClient.close();
    }
  });

  it('gRPC: a backend that dies after sending response headers is not retried; the client sees an error', async () => {
    const Echo = echoClientClass();
    const grpcClient = new Echo(`127.0.0.1:${edge.port}`, grpc.credentials.createInsecure());
    try {
      const before = grpcB.calls();
      const metadata = new grpc.Metadata();
      metadata.set('x-pool', 'dying');
      const result = await new Promise<{ error: grpc.ServiceError | null }>((resolve) => {
        (grpcClient.Unary as (m: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void)({ text: 'hi' }, metadata, { deadline: Date.now() + 5000 }, (error) => resolve({ error }));
      });
      assert.notEqual(result.error, null);
      assert.notEqual(result.error!.code, grpc.status.OK);
      assert.equal(origins.dying.streams(), 1);
      assert.equal(grpcB.calls(), before, 'never sent to the second backend');
    } finally {
      grpcClient.close();
    }
  });

  it('an HTTP/1.1 client of the same listener: the same retry, and its access line names the tries', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: edge.port, path: '/h1on503/h1', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(answer, { status: 200, body: 'good' });
    await new Promise((resolve) => setImmediate(resolve));
    const line = edge.accessLines.find((entry) => entry.path === '/h1on503/h1');
    assert.equal(line?.attempts, 2);
    assert.deepEqual(line?.tried, [origins.failing.address]);
    assert.equal(line?.backend, origins.good.address);
  });

  it('the outcome of each try feeds passive ejection: a backend whose 503s were retried is ejected', async () => {
    for (let i = 0; i < 4; i++) assert.deepEqual(await request(client, 'GET', `/eject/${i}`), { status: 200, origin: 'good' });
    const backends = edge.pools.get('eject')!.status().backends;
    const failing = backends.find((backend) => backend.id === origins.failing.address)!;
    assert.equal(failing.state, 'ejected');
    assert.equal(failing.ejections, 1);
    assert.equal(backends.find((backend) => backend.id === origins.good.address)!.state, 'healthy');
  });

  it('http2.engine: node: the same retries (503 in on, gRPC UNAVAILABLE) through the same core', async () => {
    const nodeClient = http2.connect(`http://127.0.0.1:${nodeEdge.port}`);
    const Echo = echoClientClass();
    const grpcClient = new Echo(`127.0.0.1:${nodeEdge.port}`, grpc.credentials.createInsecure());
    try {
      assert.deepEqual(await request(nodeClient, 'GET', '/on503/node'), { status: 200, origin: 'good' });
      assert.equal(nodeEdge.accessLines.find((line) => line.path === '/on503/node')?.attempts, 2);
      const unavailable = origins.unavailable.streams();
      const result = await unary(grpcClient, { text: 'hi', count: 1 });
      assert.equal(result.error, null);
      assert.match(result.reply!.text, /b/);
      assert.equal(origins.unavailable.streams(), unavailable + 1);
    } finally {
      grpcClient.close();
      nodeClient.close();
    }
  });

  it('the access line of a request to an h2c pool has the keys of one to an HTTP/1.1 pool', async () => {
    await request(client, 'GET', '/plain/parity');
    await request(client, 'GET', '/on503/parity');
    const keysOf = (path: string) => Object.keys(edge.accessLines.find((line) => line.path === path) ?? {}).sort();
    const h1 = keysOf('/plain/parity');
    const h2 = keysOf('/on503/parity');
    assert.ok(h1.includes('request_id') && h1.includes('trace_id') && h1.includes('first_byte_ms'), h1.join(','));
    // the h2c request was retried (attempts, tried): the rest matches key for key
    assert.deepEqual(
      h2.filter((key) => key !== 'attempts' && key !== 'tried'),
      h1,
    );
  });
});
