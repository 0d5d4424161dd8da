// The upstream HTTP/2 client (src/h2/upstream/client-session.ts) against a hostile h2c backend written frame
// by frame: HPACK bombs, CONTINUATION floods, PUSH_PROMISE with push disabled, bad SETTINGS, trailers
// without END_STREAM, RST_STREAM and GOAWAY where they are not allowed, PING floods. Each time the client
// must get an answer (502) or a reset within a few seconds, never a hang, and the edge (in this process)
// must stay up and serve the next request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { startEdge, type Edge } from '../h2/edge.ts';
import { tempDir } from '../tls/support.ts';
import { frame, frameType, flag, headerBlock, indexed, indexedLiteral, serveRaw, settingsPayload, u32 } from '../../support/h2-frames.ts';

type Behaviour = (socket: net.Socket, id: number) => void;

/** What the backend does with a request, by its :path (the HEADERS block is not decoded: the path is found in it as text). */
const behaviours = new Map<string, Behaviour>();
const received = { resets: [] as number[], goaways: [] as number[], pingAcks: 0 };

const ok: Behaviour = (socket, id) => socket.write(Buffer.concat([frame(frameType.HEADERS, flag.END_HEADERS, id, Buffer.from([0x88])), frame(frameType.DATA, flag.END_STREAM, id, Buffer.from('fine'))]));

const backend = net.createServer((socket) =>
  serveRaw(socket, ({ type, flags, streamId: id, payload }) => {
    if (type === frameType.RST_STREAM) received.resets.push(payload.readUInt32BE(0));
    else if (type === frameType.GOAWAY) received.goaways.push(payload.readUInt32BE(4));
    else if (type === frameType.PING && (flags & flag.ACK) !== 0) received.pingAcks++;
    else if (type === frameType.HEADERS) {
      const text = payload.toString('latin1');
      const behaviour = [...behaviours].find(([path]) => text.includes(path))?.[1] ?? ok;
      behaviour(socket, id);
    }
  }),
);

let edge: Edge;
let dir: { dir: string; remove: () => Promise<void> };
before(async () => {
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  dir = await tempDir('sy-hostile-h2-');
  edge = await startEdge(
    `
pools:
  raw: { protocol: h2c, retries: { attempts: 1 }, backends: [ { address: "127.0.0.1:${(backend.address() as net.AddressInfo).port}" } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    timeouts: { upstream_response: 3s }
    routes:
      - { match: { path_prefix: / }, pool: raw }
`,
    { baseDir: dir.dir, dataDir: dir.dir },
  );
});
after(async () => {
  await edge?.close();
  await new Promise<void>((resolve) => backend.close(() => resolve()));
  await dir?.remove();
});

/** GET `path` through the edge on a new client connection: the status (0 when reset) and the body, within `ms`. */
function get(path: string, ms = 5000): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${edge.port}`);
    client.on('error', () => undefined);
    const timer = setTimeout(() => {
      client.destroy();
      reject(new Error(`${path}: no answer nor reset within ${ms} ms`));
    }, ms);
    const stream = client.request({ ':path': path });
    let status = 0;
    let body = '';
    const done = (error?: string): void => {
      clearTimeout(timer);
      client.close();
      resolve({ status, body, error });
    };
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: Buffer) => (body += chunk.toString('latin1')));
    stream.on('end', () => done());
    stream.on('error', (err: Error) => done(err.message));
  });
}

/** The request to `path` fails cleanly (502/503/504 or a reset), and the edge then serves /fine. */
async function failsCleanly(path: string): Promise<void> {
  const result = await get(path);
  assert.ok(result.status === 0 || result.status >= 500, `${path}: ${result.status} ${result.error ?? ''} ${result.body.slice(0, 80)}`);
  const next = await get('/fine');
  assert.equal(next.status, 200, `${path}: the edge serves the next request`);
  assert.equal(next.body, 'fine');
}

const ok200 = (id: number): Buffer => frame(frameType.HEADERS, flag.END_HEADERS, id, Buffer.from([0x88]));

test('HPACK bomb: one 4 KB field in the dynamic table referenced 16 000 times (64 MB decoded)', async () => {
  behaviours.set('/hpack-bomb', (socket, id) => {
    const references = Buffer.alloc(16_000, indexed(62)[0]!);
    const block = Buffer.concat([Buffer.from([0x88]), indexedLiteral('x-bomb', 'b'.repeat(4000)), references]);
    // within one HEADERS frame of 16 KB and CONTINUATIONs
    const frames: Buffer[] = [];
    for (let at = 0; at < block.length; at += 16_384) {
      const last = at + 16_384 >= block.length;
      frames.push(frame(at === 0 ? frameType.HEADERS : frameType.CONTINUATION, last ? flag.END_HEADERS | flag.END_STREAM : at === 0 ? flag.END_STREAM : 0, id, block.subarray(at, at + 16_384)));
    }
    socket.write(Buffer.concat(frames));
  });
  await failsCleanly('/hpack-bomb');
});

test('CONTINUATION flood: a HEADERS block that never ends (40 MB of CONTINUATION)', async () => {
  behaviours.set('/continuation-flood', (socket, id) => {
    socket.write(frame(frameType.HEADERS, 0, id, Buffer.from([0x88])));
    const filler = frame(frameType.CONTINUATION, 0, id, Buffer.concat(Array.from({ length: 500 }, () => headerBlock([['x-c', 'c'.repeat(20)]]))));
    let sent = 0;
    const more = (): void => {
      while (sent < 40 * 1024 * 1024 && !socket.destroyed) {
        sent += filler.length;
        if (!socket.write(filler)) return void socket.once('drain', more);
      }
    };
    more();
  });
  await failsCleanly('/continuation-flood');
});

test('PUSH_PROMISE though the edge disabled push', async () => {
  behaviours.set('/push', (socket, id) => {
    const promise = Buffer.concat([u32(2), headerBlock([[':method', 'GET'], [':scheme', 'http'], [':path', '/pushed'], [':authority', 'x']])]);
    socket.write(Buffer.concat([frame(frameType.PUSH_PROMISE, flag.END_HEADERS, id, promise), ok200(id), frame(frameType.DATA, flag.END_STREAM, id, Buffer.from('pushed'))]));
  });
  await failsCleanly('/push');
});

test('SETTINGS with values out of range (INITIAL_WINDOW_SIZE 2^31, MAX_FRAME_SIZE 100, ENABLE_PUSH 2)', async () => {
  for (const [path, pairs] of [
    ['/settings-window', [[4, 0x8000_0000]]],
    ['/settings-frame', [[5, 100]]],
    ['/settings-push', [[2, 2]]],
  ] as const) {
    behaviours.set(path, (socket, id) => socket.write(Buffer.concat([frame(frameType.SETTINGS, 0, 0, settingsPayload(...(pairs as unknown as [number, number][]))), ok200(id), frame(frameType.DATA, flag.END_STREAM, id, Buffer.from('late'))])));
    const result = await get(path);
    // the answer may have come before the bad SETTINGS was read: what matters is no hang, no crash
    assert.ok(result.status === 0 || result.status >= 500 || result.status === 200, `${path}: ${result.status}`);
    assert.equal((await get('/fine')).status, 200, `${path}: the edge serves the next request`);
  }
});

test('trailers without END_STREAM, then more DATA', async () => {
  behaviours.set('/bad-trailers', (socket, id) => {
    socket.write(Buffer.concat([ok200(id), frame(frameType.DATA, 0, id, Buffer.from('body')), frame(frameType.HEADERS, flag.END_HEADERS, id, headerBlock([['x-trailer', 't']])), frame(frameType.DATA, flag.END_STREAM, id, Buffer.from('after'))]));
  });
  const result = await get('/bad-trailers');
  assert.ok(!result.body.includes('after'), 'nothing after the trailers reaches the client');
  assert.ok(result.status === 0 || result.status >= 500 || result.error !== undefined, `the client sees the stream fail: ${result.status} ${result.error ?? 'no error'} ${JSON.stringify(result.body)}`);
  assert.equal((await get('/fine')).status, 200);
});

test('RST_STREAM or DATA on stream 0, HEADERS without :status', async () => {
  behaviours.set('/rst-zero', (socket) => socket.write(frame(frameType.RST_STREAM, 0, 0, u32(2))));
  await failsCleanly('/rst-zero');
  behaviours.set('/data-zero', (socket) => socket.write(frame(frameType.DATA, 0, 0, Buffer.from('x'))));
  await failsCleanly('/data-zero');
  behaviours.set('/no-status', (socket, id) => socket.write(frame(frameType.HEADERS, flag.END_HEADERS | flag.END_STREAM, id, headerBlock([['x-a', 'b']]))));
  await failsCleanly('/no-status');
});

test('GOAWAY storm: a hundred GOAWAYs with growing last stream ids, then the answer', async () => {
  behaviours.set('/goaway-storm', (socket, id) => {
    const frames: Buffer[] = [];
    for (let i = 0; i < 100; i++) frames.push(frame(frameType.GOAWAY, 0, 0, Buffer.concat([u32(id + 2 * i), u32(0)])));
    frames.push(ok200(id), frame(frameType.DATA, flag.END_STREAM, id, Buffer.from('storm')));
    socket.write(Buffer.concat(frames));
  });
  const result = await get('/goaway-storm');
  assert.ok(result.status === 200 || result.status === 0 || result.status >= 500, String(result.status));
  assert.equal((await get('/fine')).status, 200);
});

test('PING flood while the backend reads nothing: the edge cuts the connection instead of queueing acks without bound', async () => {
  let flooded: net.Socket | undefined;
  let cut!: () => void;
  const closed = new Promise<void>((resolve) => (cut = resolve));
  behaviours.set('/ping-flood', (socket, id) => {
    socket.pause(); // reads nothing more: every PING ACK the edge writes stays in its own buffers
    socket.once('close', cut);
    flooded = socket;
    const pings = Buffer.concat(Array.from({ length: 10_000 }, (_, i) => frame(frameType.PING, 0, 0, Buffer.alloc(8, i & 0xff))));
    let rounds = 0;
    const more = (): void => {
      // 3 000 000 PINGs, 51 MB: as many ACKs would wait on the socket
      while (rounds < 300 && !socket.destroyed) {
        rounds++;
        if (!socket.write(pings)) return void socket.once('drain', more);
      }
      if (!socket.destroyed) socket.write(Buffer.concat([ok200(id), frame(frameType.DATA, flag.END_STREAM, id, Buffer.from('pong'))]));
    };
    more();
  });
  const result = await get('/ping-flood', 8000);
  flooded?.resume();
  assert.ok(result.status === 0 || result.status >= 500, `the flooding connection is cut: ${result.status} ${result.body}`);
  // a paused socket learns of the close when it writes or reads again: read, to see the end
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still open'), 3000)));
  assert.equal(await Promise.race([closed.then(() => 'closed'), late]), 'closed', 'the backend\'s connection was closed');
  clearTimeout(timer);
  // the stalled connection is gone: the next request gets a new one
  assert.equal((await get('/fine')).status, 200);
});

test('malformed response fields (an upper-case name, a connection-specific field, a CR in a value, trailers with a pseudo-field): 502, nothing relayed', async () => {
  const cases: [string, [string, string][]][] = [
    ['/upper-name', [['X-Upper', 'a']]],
    ['/connection', [['connection', 'close']]],
    ['/transfer-encoding', [['transfer-encoding', 'chunked']]],
    ['/cr-value', [['x-split', 'a\rset-cookie: b=c']]],
    ['/pseudo', [[':path', '/elsewhere']]],
  ];
  for (const [path, fields] of cases) {
    behaviours.set(path, (socket, id) => socket.write(Buffer.concat([frame(frameType.HEADERS, flag.END_HEADERS, id, Buffer.concat([Buffer.from([0x88]), headerBlock(fields)])), frame(frameType.DATA, flag.END_STREAM, id, Buffer.from('relayed'))])));
    const result = await get(path);
    assert.equal(result.status, 502, `${path}: ${result.status} ${result.error ?? ''}`);
    assert.ok(!result.body.includes('relayed'), `${path}: nothing of the malformed response reaches the client`);
  }
  behaviours.set('/pseudo-trailer', (socket, id) => socket.write(Buffer.concat([ok200(id), frame(frameType.DATA, 0, id, Buffer.from('body')), frame(frameType.HEADERS, flag.END_HEADERS | flag.END_STREAM, id, headerBlock([[':status', '200']]))])));
  const trailer = await get('/pseudo-trailer');
  assert.ok(trailer.status === 0 || trailer.status >= 500 || trailer.error !== undefined, `trailers with a pseudo-field fail the stream: ${trailer.status} ${trailer.error ?? 'no error'}`);
  assert.equal((await get('/fine')).status, 200);
});
