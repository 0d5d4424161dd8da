// The upstream HTTP/2 client (src/h2/upstream/client-session.ts) against a backend that keeps the protocol's
// smallest windows and frames: a request body of 1 MiB goes up in frames of at most 16 KiB within the
// backend's 16 KiB stream window (so it waits for WINDOW_UPDATEs, the client's body paused meanwhile), and
// a 1 MiB answer with trailers comes back whole.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type ServerHttp2Session } from 'node:http2';
import { createHash, randomBytes } from 'node:crypto';
import { startEdge, type Edge } from './edge.ts';
import { tempDir } from '../tls/support.ts';

interface Backend {
  address: string;
  sessions: number;
  close: () => Promise<void>;
}

/** An h2c backend with 16 KiB stream windows; /upload answers the body's length and sha256, /download sends 1 MiB and trailers. */
async function startBackend(): Promise<Backend> {
  const server = http2.createServer({ settings: { initialWindowSize: 16_384, maxFrameSize: 16_384 } });
  const sessions = new Set<ServerHttp2Session>();
  const state = { sessions: 0 };
  server.on('session', (session) => {
    state.sessions++;
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    if (path === '/download') {
      // trailers reach an HTTP/2 client when announced (Trailer), as they do for gRPC
      stream.respond({ ':status': 200, 'content-type': 'application/octet-stream', trailer: 'x-done' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-done': 'yes' }));
      stream.end(Buffer.alloc(1024 * 1024, 7));
      return;
    }
    const hash = createHash('sha256');
    let length = 0;
    stream.on('data', (chunk: Buffer) => {
      length += chunk.length;
      hash.update(chunk);
    });
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end(`${length} ${hash.digest('hex')}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    get sessions() {
      return state.sessions;
    },
    close: async () => {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function request(port: number, path: string, body?: Buffer): Promise<{ status: number; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', reject);
    const stream = client.request({ ':method': body ? 'POST' : 'GET', ':path': path }, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let status = 0;
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('trailers', (fields) => (trailers = fields));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      client.close();
      resolve({ status, body: Buffer.concat(chunks), trailers });
    });
    stream.on('error', reject);
    if (body) stream.end(body);
  });
}

describe('upstream HTTP/2 client', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  let backend: Backend;
  let edge: Edge;

  before(async () => {
    dir = await tempDir('sy-h2client-');
    backend = await startBackend();
    edge = await startEdge(
      `
pools:
  small: { protocol: h2c, retries: { attempts: 1 }, backends: [ { address: "${backend.address}" } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
      - { match: { path_prefix: / }, pool: small }
`,
      { baseDir: dir.dir, dataDir: dir.dir },
    );
  });

  after(async () => {
    await edge?.close();
    await backend?.close();
    await dir?.remove();
  });

  it('a 1 MiB request body goes up whole within the backend\'s 16 KiB windows', async () => {
    const body = randomBytes(1024 * 1024);
    const result = await request(edge.port, '/upload', body);
    assert.equal(result.status, 200);
    assert.equal(result.body.toString(), `${body.length} ${createHash('sha256').update(body).digest('hex')}`);
  });

  it('a 1 MiB response comes back whole, with its trailers', async () => {
    const result = await request(edge.port, '/download');
    assert.equal(result.status, 200);
    assert.equal(result.body.length, 1024 * 1024);
    assert.ok(result.body.every((byte) => byte === 7));
    assert.equal(result.trailers['x-done'], 'yes');
  });
});
