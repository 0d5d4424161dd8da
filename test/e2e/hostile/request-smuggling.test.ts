// Request smuggling and header injection against an HTTP/1.1 listener with the built-in filters on
// (forwarded headers, X-Request-Id, traceparent). Each request is written byte for byte on its own
// connection; a raw origin records every request head it gets, so a test shows what reached it: nothing
// the edge refuses, no second request hidden in a body, only the edge's own forwarding fields.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

/** Request heads the origin got (CRLF-separated lines), with the body bytes that followed by Content-Length. */
const seen: string[] = [];
const origin = net.createServer((socket) => {
  let buffered = Buffer.alloc(0);
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
      const head = buffered.subarray(0, end).toString('latin1');
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      const bodyLength = length === null ? 0 : Number(length[1]);
      if (buffered.length < end + 4 + bodyLength) return;
      seen.push(head);
      buffered = buffered.subarray(end + 4 + bodyLength);
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    }
  });
});

let edge: RunningSwitchyard;
let port = 0;
before(async () => {
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  edge = await runSwitchyard(`
workers: 1
log: { access_log: off }
pools:
  o: { backends: [ { address: 127.0.0.1:${(origin.address() as AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    routes:
      - match: { path_prefix: / }
        pool: o
`);
  port = edge.ready.listeners.web!.port;
});
after(async () => {
  await edge?.stop();
  await new Promise<void>((resolve) => origin.close(() => resolve()));
});

/** Writes `raw` on a new connection and collects what comes back until the edge closes or 2 s pass. */
function send(raw: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      // one answer is all these requests get: done at its end
      const end = text.indexOf('\r\n\r\n');
      const length = end < 0 ? null : /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (length !== null && text.length >= end + 4 + Number(length[1])) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    socket.setTimeout(2000, () => socket.destroy());
    socket.write(Buffer.from(raw, 'latin1'));
  });
}

const statusOf = (response: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);

/** Sends `raw`; the status and the heads the origin got for it. */
async function exchange(raw: string): Promise<{ status: number; heads: string[] }> {
  const from = seen.length;
  const status = statusOf(await send(raw));
  return { status, heads: seen.slice(from) };
}

const host = 'Host: site.test\r\n';

test('refused before the origin: obs-fold, differing Content-Length, TE with CL, CR/LF/NUL/DEL in values, bad chunks', async () => {
  const refused: Record<string, string> = {
    'obs-fold': `GET /a HTTP/1.1\r\n${host}X-A: 1\r\n b\r\n\r\n`,
    'differing Content-Length': `POST /a HTTP/1.1\r\n${host}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`,
    'Content-Length with a sign': `POST /a HTTP/1.1\r\n${host}Content-Length: +3\r\n\r\nabc`,
    'TE and CL': `POST /a HTTP/1.1\r\n${host}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${host}\r\n`,
    'TE not ending in chunked': `POST /a HTTP/1.1\r\n${host}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
    'space before the colon': `POST /a HTTP/1.1\r\n${host}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
    'bare CR in a value': `GET /a HTTP/1.1\r\n${host}X-A: 1\rX-B: 2\r\n\r\n`,
    'bare LF in a value': `GET /a HTTP/1.1\r\n${host}X-A: 1\nX-B: 2\r\n\r\n`,
    'NUL in a value': `GET /a HTTP/1.1\r\n${host}X-A: 1\x002\r\n\r\n`,
    'DEL in a value': `GET /a HTTP/1.1\r\n${host}X-A: 1\x7f2\r\n\r\n`,
    'control character in X-Request-Id': `GET /a HTTP/1.1\r\n${host}X-Request-Id: abc\x01def\r\n\r\n`,
    'chunk size overflow': `POST /a HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\nabc\r\n0\r\n\r\n`,
    'chunks ended by bare LF': `POST /a HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n`,
    'CR inside a chunk extension': `POST /a HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n3;x="a\rb"\r\nabc\r\n0\r\n\r\n`,
    'chunked on HTTP/1.0': `POST /a HTTP/1.0\r\n${host}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    'two Host fields': 'GET /a HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n',
  };
  for (const [name, raw] of Object.entries(refused)) {
    const { status, heads } = await exchange(raw);
    assert.ok(status >= 400 && status < 600, `${name}: refused (${status})`);
    assert.deepEqual(heads, [], `${name}: nothing reached the origin`);
  }
});

test('a body never carries a second request to the origin', async () => {
  const smuggled = `GET /smuggled HTTP/1.1\r\n${host}\r\n`;
  const { status, heads } = await exchange(`GET /a HTTP/1.1\r\n${host}Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`);
  assert.equal(status, 200);
  assert.equal(heads.length, 1);
  assert.match(heads[0]!, /^GET \/a /);
  const chunked = await exchange(`POST /a HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
  assert.equal(chunked.heads.length, 1);
  assert.doesNotMatch(chunked.heads[0]!, /transfer-encoding/i, 'an empty chunked body goes up with its length');
});

test('an untrusted client cannot spoof X-Forwarded-For, X-Real-IP, X-Forwarded-Proto or X-Forwarded-Host', async () => {
  const { heads } = await exchange(`GET /a HTTP/1.1\r\n${host}X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\nConnection: X-Forwarded-For\r\n\r\n`);
  assert.equal(heads.length, 1);
  const head = heads[0]!.toLowerCase();
  assert.doesNotMatch(head, /6\.6\.6\.6|evil\.test|https/);
  assert.match(head, /\r\nx-forwarded-for: 127\.0\.0\.1\r\n/);
  assert.match(head, /\r\nx-real-ip: 127\.0\.0\.1\r\n/);
});

test('X-Request-Id: a 10 KB one is replaced, one usable id goes up as it was', async () => {
  const long = await exchange(`GET /a HTTP/1.1\r\n${host}X-Request-Id: ${'r'.repeat(10_000)}\r\n\r\n`);
  assert.equal(long.heads.length, 1);
  assert.doesNotMatch(long.heads[0]!, /rrrr/);
  assert.match(long.heads[0]!, /\r\nx-request-id: [0-9a-f]{16}-[0-9a-z]+(\r\n|$)/i);
  const kept = await exchange(`GET /a HTTP/1.1\r\n${host}X-Request-Id: client-7\r\n\r\n`);
  assert.equal(kept.heads[0]!.match(/\r\nx-request-id:/gi)?.length, 1);
  assert.match(kept.heads[0]!, /\r\nX-Request-Id: client-7(\r\n|$)/i);
});

test('X-Request-Id sent twice: the origin gets one id, not the client\'s two (the log keeps one)', async () => {
  const { heads } = await exchange(`GET /a HTTP/1.1\r\n${host}X-Request-Id: one\r\nX-Request-Id: two\r\n\r\n`);
  assert.equal(heads.length, 1);
  const ids = [...heads[0]!.matchAll(/\r\nx-request-id: ([^\r]*)/gi)].map((match) => match[1]);
  assert.equal(ids.length, 1, `one X-Request-Id line upstream: ${JSON.stringify(ids)}`);
  assert.notEqual(ids[0], 'two');
});

test('a malformed traceparent starts a new trace; tracestate goes only with a valid one', async () => {
  const malformed = ['00-zzzz-zz-01', 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-00000000000000000000000000000000-0000000000000000-01', '00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01'];
  for (const value of malformed) {
    const { heads } = await exchange(`GET /a HTTP/1.1\r\n${host}traceparent: ${value}\r\ntracestate: a=b\r\n\r\n`);
    assert.equal(heads.length, 1);
    const sent = [...heads[0]!.matchAll(/\r\ntraceparent: ([^\r]*)/gi)].map((match) => match[1]);
    assert.equal(sent.length, 1, value);
    assert.match(sent[0]!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.ok(!sent[0]!.includes('0af7651916cd43dd8448eb211c80319c'.toUpperCase()), value);
    assert.doesNotMatch(heads[0]!, /tracestate/i, `${value}: tracestate dropped`);
  }
  const twice = await exchange(`GET /a HTTP/1.1\r\n${host}traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\ntraceparent: 00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n`);
  const sent = [...twice.heads[0]!.matchAll(/\r\ntraceparent: ([^\r]*)/gi)].map((match) => match[1]);
  assert.equal(sent.length, 1);
  assert.doesNotMatch(sent[0]!, /[01]af7651916cd43dd8448eb211c80319c/, 'two traceparents: a new trace');
});

test('hop-by-hop fields and Expect never reach the origin as the client sent them', async () => {
  const { heads } = await exchange(`GET /a HTTP/1.1\r\n${host}TE: trailers, deflate\r\nKeep-Alive: 5\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\n\r\n`);
  assert.equal(heads.length, 1);
  assert.doesNotMatch(heads[0]!, /keep-alive|proxy-|deflate/i);
});
