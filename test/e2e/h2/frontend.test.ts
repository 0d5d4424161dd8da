// The HTTP/2 frontends on their own (h2c prior knowledge, a dispatcher answering in place): SETTINGS
// limits, the rapid-reset guard, malformed frames and HPACK, and GOAWAY on drain — with a raw frame
// client for the bad input and curl / nghttp for the good. Every case runs against both: Switchyard's own
// codec (CodecFrontend) and node:http2 (H2Frontend).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { parseConfigText } from '../../../src/config/index.ts';
import { silentLogger } from '../../../src/core/index.ts';
import { H2Frontend, CodecFrontend } from '../../../src/h2/index.ts';
import type { ListenerConfig } from '../../../src/config/index.ts';
import type { ExchangeHandle } from '../../../src/l7/index.ts';
import { connectRaw, frame, frameType, flag, getHeaders, rstStream } from '../../support/h2-frames.ts';

const listenerConfig = (http2: string) =>
  parseConfigText(
    `
listeners:
  - name: h2c
    listen: 127.0.0.1:0
    protocol: h2c
    http2: ${http2}
    routes: [ { match: { path_prefix: / }, respond: { body: ok } } ]
`,
    'test.yaml',
    '/tmp',
  ).config.listeners[0];

function run(command: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 10_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }));
  });
}

type Engine = 'codec' | 'node';
/** What a test app does with a request: answer now with a body (or an empty 200), or keep the answer for later. */
type Reply = (body?: string) => void;
type App = (path: string, reply: Reply) => void;

/** Either frontend, with a dispatcher that hands each request's path to `app`. */
function makeFrontend(engine: Engine, config: ListenerConfig, app: App): H2Frontend | CodecFrontend {
  if (engine === 'node') {
    return new H2Frontend(config, {
      logger: silentLogger(),
      dispatch: (stream, headers) =>
        app(String(headers[':path']), (body) => {
          if (body === undefined) return stream.respond({ ':status': 200 }, { endStream: true });
          stream.respond({ ':status': 200, 'content-type': 'text/plain' });
          stream.end(body);
        }),
    });
  }
  const handle: ExchangeHandle = { bodyData: () => undefined, bodyEnd: () => undefined, drain: () => undefined, abort: () => undefined };
  return new CodecFrontend(config, {
    logger: silentLogger(),
    exchange: (request, downstream) => {
      app(request.path, (body) => {
        downstream.sendHead(200, body === undefined ? [] : ['content-type', 'text/plain', 'content-length', String(Buffer.byteLength(body))]);
        if (body !== undefined) downstream.sendData(Buffer.from(body));
        downstream.end();
      });
      return handle;
    },
  });
}

for (const engine of ['codec', 'node'] as const)
describe(`h2 frontend (${engine}, h2c)`, () => {
  let server: net.Server;
  let frontend: H2Frontend | CodecFrontend;
  let port: number;
  const dispatched: string[] = [];
  const held = new Set<() => void>();

  before(async () => {
    frontend = makeFrontend(engine, listenerConfig('{ max_concurrent_streams: 50, max_header_list_size: 8kb, max_resets_per_second: 20 }'), (path, reply) => {
      dispatched.push(path);
      if (path === '/park') return; // never answered: keeps its stream open
      // answers only when the test says so (in-flight stream during drain)
      if (path === '/hold') held.add(() => reply());
      else reply(`path=${path}`);
    });
    server = net.createServer((socket) => frontend.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await frontend.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('serves curl --http2-prior-knowledge and nghttp, many streams on one connection', async () => {
    const curl = await run('curl', ['-sS', '--http2-prior-knowledge', `http://127.0.0.1:${port}/a`]);
    assert.equal(curl.out, 'path=/a');
    const urls = Array.from({ length: 20 }, (_, i) => `http://127.0.0.1:${port}/s${i}`);
    const nghttp = await run('nghttp', ['-n', '-v', ...urls]);
    assert.equal(nghttp.code, 0, nghttp.out);
    const streams = new Set([...nghttp.out.matchAll(/recv HEADERS frame <length=\d+, flags=0x\d+, stream_id=(\d+)>/g)].map((m) => m[1]));
    assert.equal(streams.size, 20);
    assert.equal((nghttp.out.match(/send SETTINGS|recv SETTINGS frame <length=\d+, flags=0x00/g) ?? []).length >= 1, true);
  });

  it('announces max_concurrent_streams and max_header_list_size in SETTINGS', async () => {
    const raw = await connectRaw(port);
    const deadline = Date.now() + 3000;
    while (!raw.frames.some((f) => f.type === frameType.SETTINGS && !(f.flags & flag.ACK)) && Date.now() < deadline) await new Promise((r) => raw.socket.once('data', r));
    const settings = raw.frames.find((f) => f.type === frameType.SETTINGS && !(f.flags & flag.ACK))!;
    const values = new Map<number, number>();
    for (let i = 0; i + 6 <= settings.payload.length; i += 6) values.set(settings.payload.readUInt16BE(i), settings.payload.readUInt32BE(i + 2));
    assert.equal(values.get(0x3), 50, 'SETTINGS_MAX_CONCURRENT_STREAMS');
    assert.equal(values.get(0x6), 8192, 'SETTINGS_MAX_HEADER_LIST_SIZE');
    assert.equal(values.get(0x2), 0, 'SETTINGS_ENABLE_PUSH off');
    raw.socket.destroy();
  });

  it('refuses streams over max_concurrent_streams with RST_STREAM(REFUSED_STREAM)', async () => {
    const raw = await connectRaw(port);
    const parked = dispatched.filter((path) => path === '/park').length;
    for (let i = 0, id = 1; i < 55; i++, id += 2) raw.socket.write(getHeaders(id, '/park', 'x'));
    const deadline = Date.now() + 5000;
    const refused = () => raw.frames.filter((f) => f.type === frameType.RST_STREAM && f.payload.readUInt32BE(0) === 0x7).length;
    while (refused() < 5 && Date.now() < deadline) await new Promise((r) => raw.socket.once('data', r));
    assert.equal(refused(), 5, 'the five streams above 50');
    assert.equal(dispatched.filter((path) => path === '/park').length - parked, 50);
    raw.socket.destroy();
  });

  it('cuts a rapid-reset client with GOAWAY(ENHANCE_YOUR_CALM)', async () => {
    const raw = await connectRaw(port);
    const before = dispatched.length;
    // bounded: 400 open-and-cancel pairs, far over the limit of 20 per second
    for (let i = 0, id = 1; i < 400 && !raw.socket.destroyed; i++, id += 2) {
      raw.socket.write(Buffer.concat([getHeaders(id, '/reset', 'x', false), rstStream(id)]));
    }
    const code = await raw.goaway;
    assert.equal(code, 0xb, 'ENHANCE_YOUR_CALM');
    await raw.closed;
    assert.ok(dispatched.length - before < 400, 'not every stream was worked on');
    assert.ok(frontend.status().sessions_cut_for_resets >= 1);
    const curl = await run('curl', ['-sS', '--http2-prior-knowledge', `http://127.0.0.1:${port}/after`]);
    assert.equal(curl.out, 'path=/after', 'other clients are unaffected');
  });

  it('ends the connection on malformed frames and HPACK errors, before anything is dispatched', async () => {
    const cases: { name: string; bytes: Buffer; code: number }[] = [
      // an HPACK block that indexes past the end of the tables: COMPRESSION_ERROR (RFC 7541 §2.3.3)
      { name: 'hpack', bytes: frame(frameType.HEADERS, flag.END_HEADERS | flag.END_STREAM, 1, Buffer.from([0xff, 0xff, 0xff, 0x7f])), code: 0x9 },
      // SETTINGS whose length is not a multiple of 6: FRAME_SIZE_ERROR (RFC 9113 §6.5)
      { name: 'settings size', bytes: frame(frameType.SETTINGS, 0, 0, Buffer.alloc(5)), code: 0x6 },
      // DATA on stream 0: PROTOCOL_ERROR (RFC 9113 §6.1)
      { name: 'data on stream 0', bytes: frame(frameType.DATA, 0, 0, Buffer.from('x')), code: 0x1 },
      // HEADERS on an even (server-initiated) stream id: PROTOCOL_ERROR
      { name: 'even stream id', bytes: getHeaders(2, '/even', 'x'), code: 0x1 },
      // WINDOW_UPDATE with a zero increment on the connection: PROTOCOL_ERROR (RFC 9113 §6.9)
      { name: 'zero window update', bytes: frame(frameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(4)), code: 0x1 },
    ];
    const before = dispatched.length;
    for (const testCase of cases) {
      const raw = await connectRaw(port);
      raw.socket.write(testCase.bytes);
      assert.equal(await raw.goaway, testCase.code, testCase.name);
      await raw.closed;
    }
    assert.equal(dispatched.length, before, 'no malformed request reached the dispatcher');
  });

  it('refuses a header list over max_header_list_size', async () => {
    const result = await run('nghttp', ['-v', '-H', `x-big: ${'a'.repeat(10_000)}`, `http://127.0.0.1:${port}/big`]);
    // once the client has acknowledged our SETTINGS, node:http2 itself resets such a stream
    // (ENHANCE_YOUR_CALM); before that, the frontend answers 431 — either way it is never dispatched
    assert.match(result.out, /:status: 431|recv RST_STREAM frame <length=4, flags=0x00, stream_id=13>\s+\(error_code=ENHANCE_YOUR_CALM/);
    assert.ok(!dispatched.includes('/big'));
    const small = await run('nghttp', ['-H', `x-small: ${'a'.repeat(1000)}`, `http://127.0.0.1:${port}/small`]);
    assert.equal(small.out, 'path=/small');
  });

  it('sends GOAWAY on drain and lets the stream in flight finish', async () => {
    const raw = await connectRaw(port);
    raw.socket.write(getHeaders(1, '/hold', 'x'));
    const deadline = Date.now() + 3000;
    while (held.size === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    assert.equal(held.size, 1);
    const drained = frontend.drain(Date.now() + 5000);
    assert.equal(await raw.goaway, 0, 'GOAWAY(NO_ERROR)');
    for (const answer of held) answer();
    await drained;
    await raw.closed;
    const response = raw.frames.find((f) => f.type === frameType.HEADERS && f.streamId === 1);
    assert.ok(response, 'the in-flight stream got its response');
  });
});

for (const engine of ['codec', 'node'] as const)
describe(`h2 frontend (${engine}): idle sessions (timeouts.idle)`, () => {
  it('closes a session without streams after the idle timeout, and never one with a stream open', async () => {
    const config = parseConfigText(
      `
listeners:
  - name: h2c
    listen: 127.0.0.1:0
    protocol: h2c
    timeouts: { idle: 300ms }
    routes: [ { match: { path_prefix: / }, respond: { body: ok } } ]
`,
      'test.yaml',
      '/tmp',
    ).config.listeners[0];
    const parked: (() => void)[] = [];
    const frontend = makeFrontend(engine, config, (path, reply) => {
      if (path === '/park') parked.push(() => reply());
      else reply();
    });
    const server = net.createServer((socket) => frontend.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      // answered at once, then idle: GOAWAY(NO_ERROR) after 300 ms (the sweep looks every 75 ms)
      const quick = await connectRaw(port);
      const started = Date.now();
      quick.socket.write(getHeaders(1, '/quick', 'x'));
      assert.equal(await quick.goaway, 0);
      const waited = Date.now() - started;
      assert.ok(waited >= 280 && waited < 2000, `closed after ${waited} ms`);
      await quick.closed;

      // a stream in flight (a slow upstream) keeps its session: idle means no streams, not no bytes
      const busy = await connectRaw(port);
      busy.socket.write(getHeaders(1, '/park', 'x'));
      const deadline = Date.now() + 3000;
      while (parked.length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      assert.equal(parked.length, 1);
      // nothing to wait for here but time: three idle periods pass with the stream open
      await new Promise((r) => setTimeout(r, 900));
      assert.equal(busy.frames.some((f) => f.type === frameType.GOAWAY), false, 'no GOAWAY while a stream is open');
      parked[0]();
      // …and once it is answered, the session goes idle and closes
      assert.equal(await busy.goaway, 0);
      await busy.closed;
      assert.ok(busy.frames.some((f) => f.type === frameType.HEADERS && f.streamId === 1), 'the parked stream got its answer');
    } finally {
      await frontend.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
