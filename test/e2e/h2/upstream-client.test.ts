// The upstream HTTP/2 client (src/h2/upstream/client-session.ts) against a backend that keeps the protocol's
// smallest windows and frames: a request body of 1 MiB goes up in frames of at most 16 KiB within the
// backend's 16 KiB stream window (so it waits for WINDOW_UPDATEs, the client's body paused meanwhile), and
// a 1 MiB answer with trailers comes back whole.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type ServerHttp2Session } from 'node:http2';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { startEdge, type Edge } from './edge.ts';
import { tempDir } from '../tls/support.ts';
import { frame, frameType, serveRaw } from '../../support/h2-frames.ts';

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

/**
 * A raw h2c backend written frame by frame, to behave as no library would let it: `onRequest` gets each
 * HEADERS frame's stream id and the connection's number (0 for the first). It records the RST_STREAM codes
 * and GOAWAYs it receives.
 */
async function startRawBackend(onRequest: (socket: net.Socket, id: number, connection: number) => void): Promise<{ address: string; connections: number; resets: number[]; goaways: number[]; close: () => Promise<void> }> {
  const state = { connections: 0, resets: [] as number[], goaways: [] as number[] };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const connection = state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveRaw(socket, ({ type, streamId: id, payload }) => {
      if (type === frameType.RST_STREAM) state.resets.push(payload.readUInt32BE(0));
      else if (type === frameType.GOAWAY) state.goaways.push(payload.readUInt32BE(4));
      else if (type === frameType.HEADERS) onRequest(socket, id, connection);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    get connections() {
      return state.connections;
    },
    resets: state.resets,
    goaways: state.goaways,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const h2cEdge = (address: string, dir: string): Promise<Edge> =>
  startEdge(
    `
pools:
  raw: { protocol: h2c, retries: { attempts: 1 }, backends: [ { address: "${address}" } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
      - { match: { path_prefix: / }, pool: raw }
`,
    { baseDir: dir, dataDir: dir },
  );

describe('upstream HTTP/2 client against a backend that ignores its windows', () => {
  it('a stream held back by a slow client resets the backend\'s stream past its 256 KiB window (FLOW_CONTROL_ERROR) instead of holding all it sends', async () => {
    const dir = await tempDir('sy-h2flood-');
    // to every request: 200 and then 8 MiB of DATA at once, whatever the edge acknowledged
    const backend = await startRawBackend((socket, id) => {
      const data: Buffer[] = [frame(1, 4, id, Buffer.from([0x88]))]; // HEADERS :status 200, END_HEADERS
      for (let sent = 0; sent < 8 * 1024 * 1024; sent += 16_384) data.push(frame(0, 0, id, Buffer.alloc(16_384, 1)));
      socket.write(Buffer.concat(data));
    });
    const edge = await h2cEdge(backend.address, dir.dir);
    // the client reads nothing: its 64 KiB window closes at once, and the edge pauses the upstream stream
    const client = http2.connect(`http://127.0.0.1:${edge.port}`);
    try {
      client.on('error', () => {});
      const stream = client.request({ ':path': '/flood' });
      stream.on('error', () => {});
      stream.pause();
      const reset = await new Promise<number>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`no RST_STREAM reached the backend; resets ${JSON.stringify(backend.resets)}`)), 10_000);
        const poll = setInterval(() => {
          if (backend.resets.length === 0) return;
          clearInterval(poll);
          clearTimeout(deadline);
          resolve(backend.resets[0]);
        }, 10);
      });
      assert.equal(reset, 0x3, 'RST_STREAM FLOW_CONTROL_ERROR');
      assert.deepEqual(backend.goaways, [], 'a stream error, not the connection\'s');
    } finally {
      client.destroy();
      await edge.close();
      await backend.close();
      await dir.remove();
    }
  });
});

describe('upstream HTTP/2 client and a backend going away', () => {
  it('a request on a stream above a GOAWAY\'s last stream id is sent again on a new connection, even with one backend and attempts: 1', async () => {
    const dir = await tempDir('sy-h2goaway-');
    // the first connection refuses its first request with GOAWAY (last stream id 0: nothing was processed),
    // as a gRPC server at its max connection age does; later connections answer
    const backend = await startRawBackend((socket, id, connection) => {
      if (connection === 0) {
        const goaway = Buffer.alloc(8); // last stream id 0, NO_ERROR
        socket.end(frame(7, 0, 0, goaway));
        return;
      }
      socket.write(Buffer.concat([frame(1, 4, id, Buffer.from([0x88])), frame(0, 1, id, Buffer.from('again'))]));
    });
    const edge = await h2cEdge(backend.address, dir.dir);
    try {
      const result = await request(edge.port, '/once');
      assert.equal(result.status, 200);
      assert.equal(result.body.toString(), 'again');
      assert.equal(backend.connections, 2, 'the request went again on a second connection');
    } finally {
      await edge.close();
      await backend.close();
      await dir.remove();
    }
  });
});
