// HTTP/2 → HTTP/1.1 downgrade (issue 13): a request whose DATA disagrees with its content-length never
// reaches the origin, and the next valid request does not land on a connection that carried a broken one.
// Raw HTTP/2 frames to an h2c listener (both HTTP/2 engines), a node:http origin that records what it parsed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { startEdge } from '../h2/edge.ts';
import { connectRaw, frame, frameType, flag, headerBlock, type RawConnection } from '../../support/h2-frames.ts';
import { startLlhttpOrigin, waitFor, type LlhttpOrigin } from './helpers.ts';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

/** An h2c edge to `origin`; `listenerYaml` adds listener keys (one line each, indented as listener keys). */
async function edgeFor(origin: LlhttpOrigin, listenerYaml: string): Promise<number> {
  const edge = await startEdge(
    `
pools:
  app: { backends: [ { address: ${origin.address} } ] }
listeners:
  - name: h2c
    listen: 127.0.0.1:0
    protocol: h2c
${listenerYaml}
    routes: [ { match: { path_prefix: / }, pool: app } ]
`,
    { baseDir: os.tmpdir(), dataDir: os.tmpdir() },
  );
  cleanup.push(() => edge.close());
  return edge.port;
}

const post = (id: number, contentLength: number): Buffer =>
  frame(frameType.HEADERS, flag.END_HEADERS, id, headerBlock([[':method', 'POST'], [':scheme', 'http'], [':path', `/p${id}`], [':authority', 'a.test'], ['content-length', String(contentLength)]]));
const get = (id: number, path: string): Buffer => frame(frameType.HEADERS, flag.END_HEADERS | flag.END_STREAM, id, headerBlock([[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', 'a.test']]));
const data = (id: number, text: string, end: boolean): Buffer => frame(frameType.DATA, end ? flag.END_STREAM : 0, id, Buffer.from(text, 'latin1'));

/** Waits until the stream got RST_STREAM or a response HEADERS frame; returns which. */
async function outcome(c: RawConnection, id: number): Promise<string> {
  await waitFor(() => c.frames.some((f) => f.streamId === id && (f.type === frameType.RST_STREAM || f.type === frameType.HEADERS)) || c.socket.destroyed, 3000);
  const f = c.frames.find((x) => x.streamId === id && (x.type === frameType.RST_STREAM || x.type === frameType.HEADERS));
  return f === undefined ? 'none' : f.type === frameType.RST_STREAM ? 'reset' : 'response';
}

for (const engine of ['auto', 'node']) {
  for (const buffering of [true, false]) {
    test(`h2 (${engine} engine, buffering ${buffering ? 'on' : 'off'}): DATA longer or shorter than content-length never reaches the origin`, async () => {
      const origin = await startLlhttpOrigin();
      cleanup.push(() => origin.close());
      const port = await edgeFor(origin, `    http2: { engine: ${engine} }\n    request_buffering: { enabled: ${buffering} }`);
      // too long: a smuggled request rides in the excess; too short: the origin would wait for bytes that never come
      const cases: [string, number, string][] = [
        ['too long', 5, 'hello, and then GET /smuggled HTTP/1.1\r\nhost: a.test\r\n\r\n'],
        ['too short', 50, 'hi'],
      ];
      for (const [name, length, body] of cases) {
        origin.seen.length = 0;
        const c = await connectRaw(port);
        c.socket.write(post(1, length));
        // the head alone first: with buffering off it may go upstream before the DATA shows the lie
        await new Promise((resolve) => setTimeout(resolve, 50));
        c.socket.write(data(1, body, true));
        assert.notEqual(await outcome(c, 1), 'response', `${name}: the broken request was not answered as if valid`);
        c.socket.destroy();
        // a valid request afterwards (new client connection): answered, and alone on its origin connection's history
        const next = await connectRaw(port);
        next.socket.write(get(1, '/next'));
        assert.equal(await outcome(next, 1), 'response', name);
        assert.ok(await waitFor(() => origin.seen.some((r) => r.url === '/next')));
        next.socket.destroy();
        const posts = origin.seen.filter((r) => r.method === 'POST');
        if (buffering) assert.deepEqual(posts, [], `${name}: buffered, the origin saw nothing of it`);
        assert.ok(!origin.seen.some((r) => r.url === '/smuggled'), `${name}: nothing smuggled`);
        const nextOn = origin.seen.find((r) => r.url === '/next')!.connection;
        for (const p of posts) assert.notEqual(p.connection, nextOn, `${name}: /next did not reuse the connection that carried the broken request`);
      }
      // streamed, the head of a broken request may have gone up: its connection was closed mid-request
      // (llhttp's "invalid EOF"), never reused and never fed anything else
      if (buffering) assert.deepEqual(origin.errors, []);
      else for (const error of origin.errors) assert.equal(error, 'HPE_INVALID_EOF_STATE');
    });
  }
}

test('h2: a valid POST is buffered and goes up with its content-length; the connection is then reused', async () => {
  const origin = await startLlhttpOrigin();
  cleanup.push(() => origin.close());
  const port = await edgeFor(origin, '    http2: { engine: auto }');
  const c = await connectRaw(port);
  c.socket.write(Buffer.concat([post(1, 10), data(1, 'hello', false)]));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(origin.seen.length, 0);
  assert.equal(origin.connections(), 0, 'no origin connection while the body is incomplete');
  c.socket.write(data(1, 'world', true));
  assert.equal(await outcome(c, 1), 'response');
  c.socket.write(get(3, '/after'));
  assert.equal(await outcome(c, 3), 'response');
  assert.ok(await waitFor(() => origin.seen.length === 2));
  assert.equal(origin.seen[0].body.toString(), 'helloworld');
  assert.equal(origin.seen[0].headers['content-length'], '10');
  assert.equal(origin.seen[1].connection, origin.seen[0].connection);
  c.socket.destroy();
});

test('h2: a body over limits.max_body_size gets 413 (declared) or a reset (streamed past it); the origin sees nothing', async () => {
  const origin = await startLlhttpOrigin();
  cleanup.push(() => origin.close());
  const c = await connectRaw(await edgeFor(origin, '    limits: { max_body_size: 1kb }'));
  c.socket.write(post(1, 2000));
  assert.equal(await outcome(c, 1), 'response');
  const head = c.frames.find((f) => f.streamId === 1 && f.type === frameType.HEADERS)!;
  // 413 is not in the HPACK static table: the codec sends :status as a literal
  assert.match(head.payload.toString('latin1'), /413/);
  // no content-length: the DATA passes the limit
  c.socket.write(frame(frameType.HEADERS, flag.END_HEADERS, 3, headerBlock([[':method', 'POST'], [':scheme', 'http'], [':path', '/big'], [':authority', 'a.test']])));
  c.socket.write(data(3, 'x'.repeat(1500), true));
  assert.notEqual(await outcome(c, 3), 'none');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(origin.seen, []);
  assert.equal(origin.connections(), 0);
  c.socket.destroy();
});
