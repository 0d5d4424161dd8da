// Switchyard's own HTTP/2 codec (src/h2/codec) under bad input that frontend.test.ts does not send: a
// malformed request is reset with PROTOCOL_ERROR and never reaches the exchange, malformed framing ends
// the connection with the right GOAWAY, and random bytes after a valid start never crash it. Plus what
// only the codec's downstream does: gRPC errors in trailers-only form, PING answers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { parseConfigText } from '../../../src/config/index.ts';
import { EdgeError, silentLogger } from '../../../src/core/index.ts';
import { CodecFrontend } from '../../../src/h2/index.ts';
import { HpackDecoder } from '../../../src/h2/codec/hpack.ts';
import type { ExchangeHandle } from '../../../src/l7/index.ts';
import { connectRaw, frame, frameType, flag, headerBlock, until } from '../../support/h2-frames.ts';

const config = parseConfigText(
  `
listeners:
  - name: h2c
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { max_header_list_size: 8kb }
    routes: [ { match: { path_prefix: / }, respond: { body: ok } } ]
`,
  'test.yaml',
  '/tmp',
).config.listeners[0];

const RST_STREAM = frameType.RST_STREAM;
const CONTINUATION = 0x9;
const base: [string, string][] = [[':method', 'GET'], [':scheme', 'http'], [':path', '/x'], [':authority', 'a']];

function headers(id: number, fields: [string, string][], flags = flag.END_HEADERS | flag.END_STREAM): Buffer {
  return frame(frameType.HEADERS, flags, id, headerBlock(fields));
}

describe('h2 codec: bad input', () => {
  let server: net.Server;
  let frontend: CodecFrontend;
  let port: number;
  const dispatched: string[] = [];
  const aborted: string[] = [];
  let uncaught: unknown = null;
  const onUncaught = (err: unknown) => (uncaught = err);

  before(async () => {
    process.on('uncaughtException', onUncaught);
    frontend = new CodecFrontend(config, {
      logger: silentLogger(),
      exchange: (request, downstream) => {
        dispatched.push(request.path);
        const handle: ExchangeHandle = { bodyData: () => undefined, bodyEnd: () => undefined, drain: () => undefined, abort: () => void aborted.push(request.path) };
        if (request.path === '/upload') return handle; // answers nothing: waits for a body
        if (request.path === '/unavailable') {
          downstream.fail(new EdgeError('SY_ERR_NO_BACKEND', 'no backend left', { source: 'upstream', status: 503 }));
          return handle;
        }
        downstream.sendHead(200, ['content-length', '2']);
        downstream.sendData(Buffer.from('ok'));
        downstream.end();
        return handle;
      },
    });
    server = net.createServer((socket) => frontend.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    process.off('uncaughtException', onUncaught);
    await frontend.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('resets malformed requests with RST_STREAM(PROTOCOL_ERROR); none reaches the exchange; the connection serves on', async () => {
    const malformed: [string, [string, string][]][] = [
      ['upper-case name', [...base, ['X-Up', '1']]],
      ['connection-specific field', [...base, ['connection', 'keep-alive']]],
      ['transfer-encoding', [...base, ['transfer-encoding', 'chunked']]],
      ['te other than trailers', [...base, ['te', 'gzip']]],
      ['no :path', base.filter(([name]) => name !== ':path')],
      ['empty :path', [[':method', 'GET'], [':scheme', 'http'], [':path', ''], [':authority', 'a']]],
      ['unknown pseudo-header', [...base, [':protocol', 'websocket']]],
      ['a response pseudo-header', [...base, [':status', '200']]],
      ['pseudo-header after a field', [[':method', 'GET'], ['x', '1'], [':scheme', 'http'], [':path', '/'], [':authority', 'a']]],
      ['duplicate :method', [[':method', 'GET'], ...base]],
      ['CR LF in a value', [...base, ['x-inject', 'a\r\nb: c']]],
      ['leading space in a value', [...base, ['x', ' a']]],
      ['two different content-lengths', [...base, ['content-length', '1'], ['content-length', '2']]],
      ['content-length on a stream that ended', [...base, ['content-length', '5']]],
    ];
    const raw = await connectRaw(port);
    const before = dispatched.length;
    let id = 1;
    for (const [, fields] of malformed) {
      raw.socket.write(headers(id, fields));
      id += 2;
    }
    raw.socket.write(headers(id, base));
    await until(raw, () => raw.frames.some((f) => f.type === frameType.HEADERS && f.streamId === id));
    for (let i = 0; i < malformed.length; i++) {
      const rst = raw.frames.find((f) => f.type === RST_STREAM && f.streamId === 1 + 2 * i);
      assert.ok(rst, `${malformed[i][0]}: reset`);
      assert.equal(rst.payload.readUInt32BE(0), 0x1, `${malformed[i][0]}: PROTOCOL_ERROR`);
    }
    assert.deepEqual(dispatched.slice(before), ['/x'], 'only the valid request was dispatched');
    raw.socket.destroy();
  });

  it('a body longer or shorter than its content-length resets the stream and aborts the exchange', async () => {
    const raw = await connectRaw(port);
    const post: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/upload'], [':authority', 'a'], ['content-length', '4']];
    raw.socket.write(headers(1, post, flag.END_HEADERS));
    raw.socket.write(frame(frameType.DATA, flag.END_STREAM, 1, Buffer.from('abcdef')));
    raw.socket.write(headers(3, post, flag.END_HEADERS));
    raw.socket.write(frame(frameType.DATA, flag.END_STREAM, 3, Buffer.from('ab')));
    await until(raw, () => raw.frames.filter((f) => f.type === RST_STREAM).length === 2);
    for (const id of [1, 3]) assert.equal(raw.frames.find((f) => f.type === RST_STREAM && f.streamId === id)?.payload.readUInt32BE(0), 0x1, `stream ${id}`);
    assert.deepEqual(aborted, ['/upload', '/upload']);
    raw.socket.destroy();
  });

  it('ends the connection with the right GOAWAY on malformed framing', async () => {
    const cases: { name: string; bytes: Buffer; code: number }[] = [
      { name: 'frame over SETTINGS_MAX_FRAME_SIZE', bytes: frame(frameType.DATA, 0, 1, Buffer.alloc(16_385)), code: 0x6 },
      { name: 'PING of 7 bytes', bytes: frame(frameType.PING, 0, 0, Buffer.alloc(7)), code: 0x6 },
      { name: 'header block interrupted by another frame', bytes: Buffer.concat([frame(frameType.HEADERS, 0, 1, headerBlock(base)), frame(frameType.PING, 0, 0, Buffer.alloc(8))]), code: 0x1 },
      { name: 'CONTINUATION without HEADERS', bytes: frame(CONTINUATION, flag.END_HEADERS, 1, headerBlock(base)), code: 0x1 },
      { name: 'PUSH_PROMISE from a client', bytes: frame(0x5, flag.END_HEADERS, 1, Buffer.alloc(4)), code: 0x1 },
      { name: 'RST_STREAM on an idle stream', bytes: frame(RST_STREAM, 0, 7, Buffer.alloc(4)), code: 0x1 },
      { name: 'SETTINGS_ENABLE_PUSH = 2', bytes: frame(frameType.SETTINGS, 0, 0, Buffer.from([0, 2, 0, 0, 0, 2])), code: 0x1 },
      { name: 'SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1', bytes: frame(frameType.SETTINGS, 0, 0, Buffer.from([0, 4, 0x80, 0, 0, 0])), code: 0x3 },
      { name: 'connection window overflow', bytes: frame(frameType.WINDOW_UPDATE, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff])), code: 0x3 },
    ];
    for (const testCase of cases) {
      const raw = await connectRaw(port);
      raw.socket.write(testCase.bytes);
      assert.equal(await raw.goaway, testCase.code, testCase.name);
      await raw.closed;
    }
  });

  it('remembers how its last streams closed: STREAM_CLOSED for a recent one, long-closed ones dropped, never-opened lower ids a connection error', async () => {
    const raw = await connectRaw(port);
    // 300 streams, answered and closed; stream 1 is long forgotten, 599 recent; 601 is skipped
    raw.socket.write(Buffer.concat(Array.from({ length: 300 }, (_, i) => headers(2 * i + 1, base))));
    await until(raw, () => raw.frames.filter((f) => f.type === frameType.HEADERS).length === 300, 10_000);
    raw.socket.write(Buffer.concat([headers(603, base), headers(1, [['x-late', '1']]), headers(599, [['x-late', '1']]), frame(frameType.PING, 0, 0, Buffer.from('still ok'))]));
    await until(raw, () => raw.frames.some((f) => f.type === frameType.PING));
    assert.equal(raw.frames.find((f) => f.type === RST_STREAM && f.streamId === 599)?.payload.readUInt32BE(0), 0x5, 'recent: STREAM_CLOSED');
    assert.ok(!raw.frames.some((f) => f.type === RST_STREAM && f.streamId === 1), 'forgotten: dropped');
    raw.socket.write(headers(601, base));
    assert.equal(await raw.goaway, 0x1, 'a lower id never opened: PROTOCOL_ERROR');
    await raw.closed;
  });

  it('cuts a CONTINUATION flood (a header block that never ends) with ENHANCE_YOUR_CALM', async () => {
    const raw = await connectRaw(port);
    raw.socket.write(frame(frameType.HEADERS, 0, 1, headerBlock(base)));
    // bounded: 200 frames of 16 KiB, far past the 64 KiB a block may have
    for (let i = 0; i < 200 && !raw.socket.destroyed; i++) raw.socket.write(frame(CONTINUATION, 0, 1, Buffer.alloc(16_384, 0x82)));
    assert.equal(await raw.goaway, 0xb);
    await raw.closed;
  });

  it('answers PING with the same payload, and a gRPC request that fails with a trailers-only grpc-status', async () => {
    const raw = await connectRaw(port);
    const payload = Buffer.from('8 bytes!');
    raw.socket.write(frame(frameType.PING, 0, 0, payload));
    raw.socket.write(headers(1, [[':method', 'POST'], [':scheme', 'http'], [':path', '/unavailable'], [':authority', 'a'], ['content-type', 'application/grpc'], ['te', 'trailers']]));
    await until(raw, () => raw.frames.some((f) => f.type === frameType.HEADERS && f.streamId === 1) && raw.frames.some((f) => f.type === frameType.PING));
    const pong = raw.frames.find((f) => f.type === frameType.PING);
    assert.equal(pong?.flags, flag.ACK);
    assert.deepEqual(pong?.payload, payload);
    const response = raw.frames.find((f) => f.type === frameType.HEADERS && f.streamId === 1)!;
    assert.equal(response.flags & flag.END_STREAM, flag.END_STREAM, 'trailers-only: one HEADERS frame that ends the stream');
    const fields: string[] = [];
    new HpackDecoder().decode(response.payload, 0, response.payload.length, fields);
    assert.deepEqual(fields.slice(0, 6), [':status', '200', 'content-type', 'application/grpc', 'grpc-status', '14']);
    raw.socket.destroy();
  });

  it('fuzz: random bytes after a valid start never crash the codec; it serves on', async () => {
    // a seeded generator: the same 150 inputs every run
    let seed = 0x5eed;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 0x1000000;
    const valid = Buffer.concat([headers(1, base), frame(frameType.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 1, 0])), headers(3, [...base, ['x', 'y']], flag.END_HEADERS), frame(frameType.DATA, flag.END_STREAM, 3, Buffer.from('body'))]);
    for (let round = 0; round < 150; round++) {
      const bytes = Buffer.from(valid);
      // mutate a few bytes, sometimes cut or extend with noise
      for (let k = 0, n = 1 + Math.floor(random() * 6); k < n; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const noise = Buffer.alloc(Math.floor(random() * 64));
      for (let k = 0; k < noise.length; k++) noise[k] = Math.floor(random() * 256);
      const raw = await connectRaw(port);
      raw.socket.write(Buffer.concat([bytes.subarray(0, Math.floor(bytes.length * (0.5 + random() / 2))), noise]));
      // the client's FIN comes after its bytes: once the codec has read them it ends the connection
      raw.socket.end();
      await raw.closed;
    }
    assert.equal(uncaught, null, 'no exception escaped the codec');
    const curl = await new Promise<string>((resolve) => execFile('curl', ['-sS', '--http2-prior-knowledge', `http://127.0.0.1:${port}/after`], { timeout: 10_000 }, (_e, out, err) => resolve(`${out}${err}`)));
    assert.equal(curl, 'ok');
  });
});
