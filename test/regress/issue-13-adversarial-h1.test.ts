// Regression (issue 13, adversarial pass) against `switchyard start` as a real process, with llhttp
// (node:http) as the origin behind a tap that records the raw bytes it is sent. Every hostile request is
// refused at the edge with nothing upstream, or reaches the origin as exactly the one valid request llhttp
// parses without error. Found by this pass and fixed:
// - a CONNECT with an origin-form target went upstream (an origin that accepts it makes the pooled
//   connection a tunnel; the next client's request on it would not be parsed as one);
// - trailers that frame or route (Content-Length, Transfer-Encoding, Host, …) went upstream in a streamed
//   chunked body, and llhttp refused the whole message (HPE_INVALID_CONTENT_LENGTH);
// - a request line over max_header_size got 431 instead of 414 (RFC 9112 3);
// - an HTTP/1.0 request's Upgrade went upstream (as HTTP/1.1), and a 101 switched an HTTP/1.0 client
//   (RFC 9110 7.8: a server ignores Upgrade in an HTTP/1.0 request; the upstream cannot tell it was one);
// - an upstream response listing Content-Length or Transfer-Encoding in Connection reached the client
//   without that field but with the body framed by it: on a keep-alive connection the client could not
//   tell where the response ended and took the next response for part of its body.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { runSwitchyard, type RunningSwitchyard } from '../support/run-switchyard.ts';
import { rawExchange, startLlhttpOrigin, type LlhttpOrigin } from '../e2e/l7/helpers.ts';

let llhttp: LlhttpOrigin;
let tap: net.Server;
let edge: RunningSwitchyard;
let port: number;
/** Raw bytes the origin was sent (all connections, arrival order). */
let tapped = '';

before(async () => {
  llhttp = await startLlhttpOrigin();
  tap = net.createServer((client) => {
    const origin = net.connect(llhttp.port, '127.0.0.1');
    client.on('data', (data) => {
      tapped += data.toString('latin1');
      origin.write(data);
    });
    origin.on('data', (data) => client.write(data));
    client.on('end', () => origin.end());
    origin.on('end', () => client.end());
    client.on('error', () => origin.destroy());
    origin.on('error', () => client.destroy());
    client.on('close', () => origin.destroy());
  });
  await new Promise<void>((resolve) => tap.listen(0, '127.0.0.1', resolve));
  edge = await runSwitchyard(`
workers: 1
pools:
  origin: { backends: [ { address: 127.0.0.1:${(tap.address() as net.AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    limits: { max_header_size: 8kb, max_body_size: 100kb }
    request_buffering: { memory_max: 4kb, spill_max_total: 300kb }
    routes:
      - { match: { path_prefix: /stream }, pool: origin, request_buffering: { enabled: false } }
      - { pool: origin }
`);
  port = edge.ready.listeners.web.port;
});

after(async () => {
  await edge?.stop();
  await llhttp?.close();
  tap?.close();
});

const H = 'Host: a.test\r\n';
const smuggled = `GET /smuggled HTTP/1.1\r\n${H}\r\n`;

/** Sends `request` on a new connection; returns the statuses the client got and what the origin saw. */
async function probe(request: string | string[], responses?: number): Promise<{ statuses: number[]; closed: boolean; seen: string[]; errors: string[]; raw: string }> {
  tapped = '';
  const seen = llhttp.seen.length;
  const errors = llhttp.errors.length;
  const result = await rawExchange(port, request, { timeoutMs: 3000, responses });
  return {
    statuses: result.responses.map((r) => r.status),
    closed: result.closed,
    seen: llhttp.seen.slice(seen).map((r) => `${r.method} ${r.url} ${r.body.toString('latin1')}`),
    errors: llhttp.errors.slice(errors),
    raw: tapped,
  };
}

const refused: [string, string, number][] = [
  ['CONNECT, origin-form, then a pipelined GET', `CONNECT /x HTTP/1.1\r\n${H}\r\n${smuggled}`, 400],
  ['CONNECT, absolute-form', `CONNECT http://a.test/x HTTP/1.1\r\n${H}\r\n`, 400],
  ['CONNECT, authority-form', 'CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n', 400],
  ['request line over max_header_size', `GET /${'a'.repeat(9000)} HTTP/1.1\r\n${H}\r\n`, 414],
  ['header over max_header_size', `GET / HTTP/1.1\r\n${H}X-A: ${'a'.repeat(9000)}\r\n\r\n`, 431],
  ['CL.TE', `POST / HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`, 400],
  ['TE.CL', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`, 400],
  ['Transfer-Encoding: xchunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, 501],
  ['Transfer-Encoding: chunked, identity', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, 400],
  ['space before the colon of Transfer-Encoding', `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, 400],
  ['Transfer-Encoding twice', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ['Transfer-Encoding folded', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`, 400],
  ['Content-Length: 5, 6', `POST / HTTP/1.1\r\n${H}Content-Length: 5, 6\r\n\r\nhello!`, 400],
  ['Content-Length: +5', `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`, 400],
  ['Content-Length: 0x5', `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\nhello`, 400],
  ['Content-Length beyond 2^53', `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\nhello`, 400],
  ['Content-Length over max_body_size', `POST / HTTP/1.1\r\n${H}Content-Length: 200000\r\n\r\nhello`, 413],
  ['bare LF', `GET / HTTP/1.1\n${H}\n`, 400],
  ['bare CR', `GET / HTTP/1.1\r\nX-A: 1\rX-B: 2\r\n${H}\r\n`, 400],
  ['NUL in a header name', `GET / HTTP/1.1\r\n${H}X-\x00A: 1\r\n\r\n`, 400],
  ['NUL in a header value', `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, 400],
  ['control byte in the target', `GET /a\x01b HTTP/1.1\r\n${H}\r\n`, 400],
  ['Host twice, conflicting', `GET / HTTP/1.1\r\n${H}Host: evil.test\r\n\r\n`, 400],
  ['absolute-form with userinfo', `GET http://u@b.test/ HTTP/1.1\r\n${H}\r\n`, 400],
  ['chunk size overflow', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\nx\r\n0\r\n\r\n`, 400],
  ['chunk extension over 4 KiB', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;${'e'.repeat(5000)}\r\nabc\r\n0\r\n\r\n`, 400],
  ['quoted chunk extension hiding a CRLF', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;a="b\r\n0\r\n\r\n"\r\nabc\r\n0\r\n\r\n`, 400],
  ['/%2e%2e/ above the root', `GET /%2e%2e/etc HTTP/1.1\r\n${H}\r\n`, 400],
  ['%2f in the path', `GET /a%2fb HTTP/1.1\r\n${H}\r\n`, 400],
];
for (const name of ['Content-Length', 'Transfer-Encoding', 'Host']) {
  for (const route of ['/buffered', '/stream']) {
    refused.push([`trailer ${name} on ${route}`, `POST ${route} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n${name}: 50\r\n\r\n${smuggled}`, 400]);
  }
}

test('hostile requests are refused at the edge: the client gets the status and a close, the origin nothing', { timeout: 60_000 }, async () => {
  for (const [name, request, status] of refused) {
    const r = await probe(request);
    assert.deepEqual(r.statuses, [status], name);
    assert.equal(r.closed, true, name);
    assert.deepEqual(r.seen, [], name);
    assert.equal(r.raw, '', name);
  }
  assert.deepEqual(llhttp.errors, []);
});

test('a forbidden trailer after the streamed head went upstream: the origin gets no complete request', { timeout: 10_000 }, async () => {
  const before = llhttp.seen.length;
  const errors = llhttp.errors.length;
  const socket = net.connect(port, '127.0.0.1');
  const answer = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (data) => (text += data.toString('latin1')));
    socket.on('close', () => resolve(text));
  });
  socket.write(`POST /stream HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n`);
  // the head and the first chunk are at the origin before the trailer is sent
  while (!tapped.includes('abc')) await new Promise((resolve) => setTimeout(resolve, 10));
  socket.write(`0\r\nContent-Length: 50\r\n\r\n${smuggled}`);
  assert.match(await answer, /^HTTP\/1\.1 400 /);
  assert.equal(llhttp.seen.length, before);
  assert.ok(!tapped.includes('Content-Length: 50'), tapped);
  // the edge dropped the upstream connection mid-body: llhttp saw the end of a request cut short
  while (llhttp.errors.length === errors) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(llhttp.errors.slice(errors), ['HPE_INVALID_EOF_STATE']);
});

test('ambiguous-looking but valid requests reach the origin as exactly the request sent', { timeout: 30_000 }, async () => {
  const accepted: [string, string | string[], string[]][] = [
    ['Content-Length: 5, 5', `POST /a HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`, ['POST /a hello']],
    ['Content-Length: 005', `POST /a HTTP/1.1\r\n${H}Content-Length: 005\r\n\r\nhello`, ['POST /a hello']],
    ['a body that is a request, then a pipelined request', `POST /a HTTP/1.1\r\n${H}Content-Length: ${smuggled.length}\r\n\r\n${smuggled}GET /b HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, [`POST /a ${smuggled}`, 'GET /b ']],
    ['streamed chunked with a plain trailer', `POST /stream HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum: 1\r\n\r\n`, ['POST /stream abc']],
    ['quoted chunk extension', `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;a="b;c\\"d"\r\nabc\r\n0\r\n\r\n`, ['POST /a abc']],
    ['buffered body past memory_max, then pipelined requests', [`POST /big HTTP/1.1\r\n${H}Content-Length: 10000\r\n\r\n`, `${'z'.repeat(10000)}GET /p2 HTTP/1.1\r\n${H}\r\nGET /p3 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`], [`POST /big ${'z'.repeat(10000)}`, 'GET /p2 ', 'GET /p3 ']],
    ['Connection: close stops the pipeline', `GET /c1 HTTP/1.1\r\n${H}Connection: close\r\n\r\nGET /c2 HTTP/1.1\r\n${H}\r\n`, ['GET /c1 ']],
    ['/a/%2e%2e/b normalised', `GET /a/%2e%2e/b HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, ['GET /b ']],
    ['absolute-form replaces Host', `GET http://b.test/x HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, ['GET /x ']],
  ];
  const errors = llhttp.errors.length;
  for (const [name, request, expected] of accepted) {
    const r = await probe(request, expected.length);
    assert.deepEqual(r.seen, expected, name);
    assert.deepEqual(r.statuses, expected.map(() => 200), name);
  }
  assert.deepEqual(llhttp.errors.slice(errors), []);
});

test('spill budget: clients that leave mid-spill give their bytes back; bodies that need the whole budget then pass', { timeout: 20_000 }, async () => {
  for (let round = 0; round < 3; round++) {
    const sockets = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => {});
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.write(`POST /leave/${i} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${(70_000).toString(16)}\r\n${'x'.repeat(60_000)}`);
        return socket;
      }),
    );
    // 4 x 60 KB spilled (the budget is 300 KB) before they go
    const before = llhttp.seen.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const socket of sockets) socket.destroy();
    assert.equal(llhttp.seen.length, before);
  }
  const seen = llhttp.seen.length;
  const results = await Promise.all(
    [0, 1, 2].map((i) => rawExchange(port, [`POST /whole/${i} HTTP/1.1\r\n${H}Content-Length: 99000\r\nConnection: close\r\n\r\n`, 'z'.repeat(99_000)], { responses: 1, timeoutMs: 10_000 })),
  );
  assert.deepEqual(results.map((r) => r.responses[0]?.status), [200, 200, 200]);
  assert.deepEqual(llhttp.seen.slice(seen).map((r) => r.body.length), [99_000, 99_000, 99_000]);
});

test('Upgrade is forwarded for HTTP/1.1 only: an HTTP/1.0 request reaches the origin without it', { timeout: 10_000 }, async () => {
  const upgrade = 'Connection: Upgrade\r\nUpgrade: websocket\r\n';
  const before = llhttp.seen.length;
  await probe(`GET /u10 HTTP/1.0\r\n${H}${upgrade}\r\n`, 1);
  await probe(`GET /u11 HTTP/1.1\r\n${H}${upgrade}\r\n`, 1);
  const seen = llhttp.seen.slice(before);
  assert.deepEqual(seen.map((r) => [r.url, r.headers.upgrade, r.headers.connection]), [
    ['/u10', undefined, undefined],
    ['/u11', 'websocket', 'upgrade'],
  ]);
});

test('an upgrade to h2c is not forwarded (h2c smuggling): the request reaches the origin as a plain one', { timeout: 10_000 }, async () => {
  const before = llhttp.seen.length;
  await probe(`GET /h2c HTTP/1.1\r\n${H}Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`, 1);
  await probe(`GET /h2c-listed HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: foo/2, H2C\r\n\r\n`, 1);
  const seen = llhttp.seen.slice(before);
  assert.deepEqual(seen.map((r) => [r.url, r.headers.upgrade, r.headers.connection, r.headers['http2-settings']]), [
    ['/h2c', undefined, undefined, undefined],
    ['/h2c-listed', undefined, undefined, undefined],
  ]);
});

test('a response cannot unframe itself through Connection: the client gets the framing the edge relayed by', { timeout: 15_000 }, async () => {
  const replies: Record<string, string> = {
    '/te': 'HTTP/1.1 200 OK\r\nConnection: transfer-encoding, x-gone\r\nX-Gone: 1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    '/cl': 'HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello',
  };
  // answers each request head with its canned reply (keep-alive), the next request with `ok`
  const origin = net.createServer((socket) => {
    let received = '';
    socket.on('data', (data) => {
      received += data.toString('latin1');
      let end: number;
      while ((end = received.indexOf('\r\n\r\n')) >= 0) {
        const target = received.slice(received.indexOf(' ') + 1, received.indexOf(' ', received.indexOf(' ') + 1));
        received = received.slice(end + 4);
        socket.write(replies[target] ?? 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const responder = await runSwitchyard(`
workers: 1
pools:
  canned: { backends: [ { address: 127.0.0.1:${(origin.address() as net.AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    routes:
      - { pool: canned }
`);
  try {
    for (const [target, framing] of [['/te', /\r\nTransfer-Encoding: chunked(\r\n|$)/], ['/cl', /\r\nContent-Length: 5(\r\n|$)/]] as const) {
      const result = await rawExchange(responder.ready.listeners.web.port, `GET ${target} HTTP/1.1\r\n${H}\r\nGET /next HTTP/1.1\r\n${H}\r\n`, { responses: 2, timeoutMs: 3000 });
      assert.deepEqual(result.responses.map((r) => [r.status, r.body]), [[200, 'hello'], [200, 'ok']], target);
      assert.match(result.responses[0].head, framing, target);
      // other names the upstream lists are still removed (RFC 9110 7.6.1)
      assert.ok(!/x-gone/i.test(result.responses[0].head), target);
    }
  } finally {
    await responder.stop();
    origin.close();
  }
});
