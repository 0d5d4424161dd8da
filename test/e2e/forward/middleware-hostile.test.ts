// The forward proxy's middleware against hostile or odd origins and clients, on real sockets: a raw TCP
// origin scripted per path (responses that end with the connection, bad chunks, trailers), raw client
// sockets for pipelining, and the real process.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { gunzipSync } from 'node:zlib';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { fastOrigin } from '../../support/compress-lag.ts';
import { curlText } from '../../support/curl-text.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const TEXT = 'compressible line of text\n'.repeat(400);
/** Requests the origin saw, per path. */
const seen = new Map<string, number>();
let originPort: number;
/** The paths each origin connection served, and who waits for a connection that served a path to close. */
const served = new Map<net.Socket, string[]>();
const closedAfter = new Map<string, () => void>();
/** The request heads the origin got, per path. */
const heads = new Map<string, string[]>();
let edge: RunningSwitchyard;
let app: http.Server;

/** What the raw origin writes for a request path; `end` closes the connection after it. */
function script(pathname: string, n: number): { bytes: string; end: boolean } {
  const kind = pathname.split('/')[1];
  if (kind === 'close-length') return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${TEXT.length}\r\nConnection: close\r\n\r\n${TEXT}`, end: true };
  if (kind === 'until-close') return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${TEXT}`, end: true };
  if (kind === 'drip') {
    // a cacheable compressible body that comes a part at a time (dripping(), until the connection closes)
    return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nContent-Length: ${TEXT.length * 1000}\r\n\r\n${TEXT}`, end: false };
  }
  // a field value with an obs-text byte (0xE9, latin1 "é"): RFC 9110 lets it through as an opaque octet
  if (kind === 'obs') return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nX-Name: caf\u00e9\r\nContent-Length: 2\r\n\r\nok`, end: false };
  if (kind === 'fresh') return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nContent-Length: ${`fresh #${n}`.length}\r\n\r\nfresh #${n}`, end: false };
  if (kind === 'trailer') return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n7\r\nchunk ${n}\r\n3\r\nend\r\n0\r\nx-sum: 42\r\n\r\n`, end: false };
  if (kind === 'badchunk') return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nchunk ${n}\r\nzz\r\nbad\r\n0\r\n\r\n`, end: false };
  return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${`plain #${n}`.length}\r\n\r\nplain #${n}`, end: false };
}

before(async () => {
  const origin = net.createServer((socket) => {
    let buf = '';
    socket.on('close', () => {
      for (const pathname of served.get(socket) ?? []) closedAfter.get(pathname)?.();
    });
    socket.setEncoding('latin1');
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      buf += chunk;
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const pathname = head.split(' ')[1];
        const n = (seen.get(pathname) ?? 0) + 1;
        seen.set(pathname, n);
        served.set(socket, [...(served.get(socket) ?? []), pathname]);
        heads.set(pathname, [...(heads.get(pathname) ?? []), head]);
        const { bytes, end: close } = script(pathname, n);
        if (close) socket.end(bytes, 'latin1');
        else socket.write(bytes, 'latin1');
        // the proxy writes to its client after the client left, so it notices (a paused socket reads no FIN)
        if (pathname.startsWith('/drip/')) {
          const drip = setInterval(() => socket.write(TEXT, 'latin1'), 20);
          socket.once('close', () => clearInterval(drip));
        }
      }
    });
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originPort = (origin.address() as net.AddressInfo).port;
  cleanups.push(() => new Promise((resolve) => origin.close(resolve)));

  // the pool of a reverse route named like the forward listener (its cache and rate limits must stay its own)
  app = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
    res.end('the app itself');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => app.close(resolve)));

  const allow = `allow: { clients: [127.0.0.0/8], hosts: [127.0.0.1], ports: ["1024-65535"], destinations: [127.0.0.0/8] }`;
  edge = await runSwitchyard(`
workers: 1
pools:
  app: { backends: [ { address: 127.0.0.1:${(app.address() as net.AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
      - name: cached
        match: { path_prefix: / }
        pool: app
        middleware: [ { cache: { max_size: 1mb } } ]
  - name: gz
    listen: 127.0.0.1:0
    protocol: forward_proxy
    ${allow}
    middleware: [ { compress: { encodings: [gzip], min_size: 1kb } } ]
  - name: cached
    listen: 127.0.0.1:0
    protocol: forward_proxy
    ${allow}
    middleware:
      - cache: { max_size: 1mb }
      - rate_limit: { key: "header:x-key", rate: 1/h, burst: 1 }
  - name: both
    listen: 127.0.0.1:0
    protocol: forward_proxy
    ${allow}
    middleware: [ { cache: { max_size: 1mb } }, { compress: { encodings: [gzip], min_size: 1kb } } ]
`);
  cleanups.push(() => edge.stop());
});

/** One request on a raw socket; resolves with everything the proxy sent until it closed the connection. */
function rawExchange(port: number, request: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`timed out after: ${Buffer.concat(chunks).toString('latin1')}`)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.write(request);
  });
}

/** Decodes a chunked body (no trailers expected); throws when it is cut before the last chunk. */
function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const line = body.indexOf('\r\n', at);
    assert.ok(line > 0, `chunk size line missing at ${at} of ${body.length}`);
    const size = parseInt(body.toString('latin1', at, line), 16);
    if (size === 0) return Buffer.concat(parts);
    assert.ok(line + 2 + size + 2 <= body.length, `chunk cut at ${at} of ${body.length}`);
    parts.push(body.subarray(line + 2, line + 2 + size));
    at = line + 2 + size + 2;
  }
}

test('compress: an origin that closes right after its response (Content-Length, or until close) still gets the whole gzip body to the client', async () => {
  for (const kind of ['close-length', 'until-close']) {
    const target = `http://127.0.0.1:${originPort}/${kind}/x`;
    const out = await rawExchange(edge.ready.listeners.gz.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n`);
    const split = out.indexOf('\r\n\r\n');
    const head = out.subarray(0, split).toString('latin1').toLowerCase();
    assert.match(head, /^http\/1\.1 200/, kind);
    assert.match(head, /\r\ncontent-encoding: gzip/, kind);
    assert.match(head, /\r\ntransfer-encoding: chunked/, kind);
    assert.equal(gunzipSync(dechunk(out.subarray(split + 4))).toString(), TEXT, kind);
    const line = await edge.waitForLine((l) => l.listener === 'gz' && l.path === `/${kind}/x`);
    assert.equal(line.reason, 'ok', kind);
  }
});

/** Sends `request` on one socket and resolves with what came back once `done(text)` holds (then closes). */
function rawUntil(port: number, request: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      text += chunk;
      if (done(text)) socket.destroy();
    });
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`timed out after: ${JSON.stringify(text)}`)));
    socket.on('close', () => resolve(text));
    socket.write(request);
  });
}

const get = (pathname: string, fields = '') => `GET http://127.0.0.1:${originPort}${pathname} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n${fields}\r\n`;

test('shared cache: an HTTP/1.0 client that keeps its connection is told so on a hit too (Connection: keep-alive), and its next request is served', async () => {
  const port = edge.ready.listeners.cached.port;
  const target = `http://127.0.0.1:${originPort}/fresh/ka10`;
  const req10 = `GET ${target} HTTP/1.0\r\nHost: 127.0.0.1:${originPort}\r\nConnection: keep-alive\r\n\r\n`;
  const text = await rawUntil(port, req10 + req10, (t) => (t.match(/fresh #1/g) ?? []).length === 2);
  const answers = text.split(/(?=HTTP\/1\.1 )/);
  assert.equal(answers.length, 2, text);
  for (const one of answers) assert.match(one, /\r\nconnection: keep-alive\r\n/i, one);
  assert.match(answers[1], /cache-status: Switchyard; hit/i);
});

test('shared cache + rate_limit: a coalescing leader refused 429 by the later filter releases its key at once (the next request is not held)', async () => {
  const port = edge.ready.listeners.cached.port;
  // spend the budget of key L, then lead a miss with it: the cache marks the key in flight, rate_limit answers 429
  await rawUntil(port, get('/plain/spend', 'x-key: L\r\nConnection: close\r\n'), (t) => t.includes('plain #'));
  const refused = await rawUntil(port, get('/fresh/led', 'x-key: L\r\nConnection: close\r\n'), (t) => /\r\n\r\n[\s\S]*\n$/.test(t));
  assert.match(refused, /^HTTP\/1\.1 429 /);
  const started = performance.now();
  const next = await rawUntil(port, get('/fresh/led', 'x-key: W\r\nConnection: close\r\n'), (t) => t.includes('fresh #'));
  assert.match(next, /^HTTP\/1\.1 200 /);
  assert.ok(performance.now() - started < 2000, `the next request waited ${Math.round(performance.now() - started)} ms`);
  assert.equal(seen.get('/fresh/led'), 1);
});

test('pipelined on one connection: a miss, a hit, a 429, a HEAD hit and a miss, answered in order with exact framing', async () => {
  const port = edge.ready.listeners.cached.port;
  await rawUntil(port, get('/fresh/pp', 'x-key: P0\r\nConnection: close\r\n'), (t) => t.includes('fresh #'));
  await rawUntil(port, get('/plain/pp-spend', 'x-key: P1\r\nConnection: close\r\n'), (t) => t.includes('plain #'));
  const head = (pathname: string, fields: string) => get(pathname, fields).replace(/^GET/, 'HEAD');
  const batch = get('/plain/pp1', 'x-key: P2\r\n') + get('/fresh/pp', 'x-key: P3\r\n') + get('/plain/pp2', 'x-key: P1\r\n') + head('/fresh/pp', 'x-key: P4\r\n') + get('/plain/pp3', 'x-key: P5\r\nConnection: close\r\n');
  const text = await rawUntil(port, batch, () => false);
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [200, 200, 429, 200, 200], text);
  // each answer's body is exactly its Content-Length: parse them one after another
  let at = 0;
  const bodies: string[] = [];
  for (const status of statuses) {
    const end = text.indexOf('\r\n\r\n', at);
    const headText = text.slice(at, end);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(headText)![1]);
    const isHead = bodies.length === 3;
    bodies.push(isHead ? '' : text.slice(end + 4, end + 4 + length));
    at = end + 4 + (isHead ? 0 : length);
    assert.ok(status > 0);
  }
  assert.equal(at, text.length, 'nothing after the last answer');
  assert.match(bodies[0], /^plain #1$/);
  assert.equal(bodies[1], 'fresh #1');
  assert.equal(bodies[4], 'plain #1');
});

test('shared cache: a chunked response with trailers is stored payload only; a bad chunk cuts the client and stores nothing', async () => {
  const port = edge.ready.listeners.cached.port;
  const first = await rawUntil(port, get('/trailer/t', 'Connection: close\r\n'), () => false);
  assert.match(first, /^HTTP\/1\.1 200 /);
  assert.match(first, /7\r\nchunk 1\r\n3\r\nend\r\n0\r\n/);
  const hit = await rawUntil(port, get('/trailer/t', 'Connection: close\r\n'), () => false);
  assert.match(hit, /cache-status: Switchyard; hit/i);
  assert.match(hit, /\r\ncontent-length: 10\r\n[\s\S]*\r\n\r\nchunk 1end$/i);
  assert.equal(seen.get('/trailer/t'), 1);

  const cut = await rawUntil(port, get('/badchunk/b', 'Connection: close\r\n'), () => false);
  // the head and the bad chunk came in one read: the connection is cut before the corked head leaves
  assert.ok(cut === '' || cut.startsWith('HTTP/1.1 200 '), cut);
  assert.doesNotMatch(cut, /0\r\n\r\n$/, 'the cut response never looks complete');
  const again = await rawUntil(port, get('/badchunk/b', 'Connection: close\r\n'), () => false);
  assert.doesNotMatch(again, /hit/);
  assert.equal(seen.get('/badchunk/b'), 2);
});

test('request smuggling through the middleware: CL+TE and two Content-Lengths are refused 400, nothing reaches the origin', async () => {
  const port = edge.ready.listeners.cached.port;
  const target = `http://127.0.0.1:${originPort}/plain/smuggle`;
  const attempts = [
    `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET ${target}?inner HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
    `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nContent-Length: 41\r\n\r\nhello`,
    `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
  ];
  for (const attempt of attempts) {
    const text = await rawUntil(port, attempt, () => false);
    assert.match(text, /^HTTP\/1\.1 400 /, attempt);
    assert.equal((text.match(/HTTP\/1\.1/g) ?? []).length, 1, attempt);
  }
  assert.equal(seen.get('/plain/smuggle'), undefined);
  assert.equal(seen.get('/plain/smuggle?inner'), undefined);
});

test('Expect: 100-continue through the middleware: 100 then the origin\'s answer; a 429 instead answers without reading the body and closes', async () => {
  const port = edge.ready.listeners.cached.port;
  const target = `http://127.0.0.1:${originPort}/plain/expect`;
  const post = (key: string) => `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-key: ${key}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`;
  const sent = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      text += chunk;
      if (text === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write('hello');
      if (/plain #\d+$/.test(text)) socket.destroy();
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`timed out after: ${JSON.stringify(text)}`)));
    socket.on('close', () => resolve(text));
    socket.write(post('E1'));
  });
  assert.match(sent, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  const refused = await rawUntil(port, post('E1'), () => false);
  assert.match(refused, /^HTTP\/1\.1 429 /, 'no 100 before the refusal');
  assert.match(refused, /\r\nconnection: close\r\n/i);
});

test('compress: an origin faster than the compressor is held back (the proxy buffers a bounded amount, not the whole body)', async () => {
  // without backpressure from zlib the proxy read a fast origin's whole body into the compressor's queue
  const total = 256 * 1024 * 1024;
  const fast = await fastOrigin(total);
  try {
    await fast.fetch(edge.ready.listeners.gz.port, `GET http://127.0.0.1:${fast.port}/big HTTP/1.1\r\nHost: 127.0.0.1:${fast.port}\r\nAccept-Encoding: gzip\r\n\r\n`);
    assert.ok(fast.worstLag() < 64 * 1024 * 1024, `the origin got ${Math.round(fast.worstLag() / 1048576)} MB ahead of what the client decoded`);
  } finally {
    await fast.close();
  }
});

test('cache + compress: a client gone mid-response drops the origin connection, stores nothing, and the next request goes to the origin', async () => {
  const port = edge.ready.listeners.both.port;
  const originClosed = new Promise<void>((resolve) => closedAfter.set('/drip/d', resolve));
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    // the head and the first compressed bytes came: the client leaves
    socket.on('data', (chunk) => {
      text += chunk;
      if (/\r\n\r\n[0-9a-f]+\r\n/.test(text)) socket.destroy();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.write(get('/drip/d', 'Accept-Encoding: gzip\r\n'));
  });
  await originClosed;
  const line = await edge.waitForLine((l) => l.listener === 'both' && l.path === '/drip/d');
  assert.equal(line.reason, 'client_closed');
  const next = await rawUntil(port, get('/drip/d', 'Connection: close\r\n'), (t) => t.includes('\r\n\r\n'));
  assert.match(next, /cache-status: Switchyard; fwd=uri-miss/i);
  assert.equal(seen.get('/drip/d'), 2);
});

test('an HTTP/1.0 client that keeps its connection is told so on the proxy\'s own refusals too', async () => {
  const port = edge.ready.listeners.cached.port;
  const denied = `GET http://10.1.2.3/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`;
  const text = await rawUntil(port, denied + denied, (t) => (t.match(/not allowed/g) ?? []).length === 2);
  const answers = text.split(/(?=HTTP\/1\.1 )/);
  assert.equal(answers.length, 2, text);
  for (const one of answers) {
    assert.match(one, /^HTTP\/1\.1 403 /);
    assert.match(one, /\r\nconnection: keep-alive\r\n/i, one);
  }
});

test('shared cache: a response to a request with Authorization is not stored for others; Proxy-Authorization never reaches the origin', async () => {
  const port = edge.ready.listeners.cached.port;
  const authed = await rawUntil(port, get('/fresh/auth', 'Authorization: Basic dTpw\r\nProxy-Authorization: Basic cHJveHk6c2VjcmV0\r\nConnection: close\r\n'), () => false);
  assert.match(authed, /cache-status: Switchyard; fwd=uri-miss; fwd-status=200; detail=authorization/i);
  const other = await rawUntil(port, get('/fresh/auth', 'Connection: close\r\n'), () => false);
  assert.match(other, /fresh #2$/, 'the anonymous request was not answered from the authorised one');
  assert.equal(seen.get('/fresh/auth'), 2);
  assert.ok(!heads.get('/fresh/auth')!.some((head) => /proxy-authorization/i.test(head)), 'Proxy-Authorization forwarded');
});

test('shared cache: what the forward proxy fetched is never served by a reverse route named like its listener', async () => {
  // the forward proxy fetches and stores http://127.0.0.1:<origin>/fresh/planted
  const planted = await rawUntil(edge.ready.listeners.cached.port, get('/fresh/planted', 'Connection: close\r\n'), () => false);
  assert.match(planted, /stored/);
  // the same URL through a reverse route named "cached": its own pool answers
  const reverse = await curlText(['-H', `Host: 127.0.0.1:${originPort}`], edge.url('web', '/fresh/planted'), []);
  assert.equal(reverse.body, 'the app itself', `served: ${reverse.headers['cache-status']}`);
});

test('shared cache: a hit sends the stored field bytes as the origin sent them (an obs-text octet is not re-encoded)', async () => {
  const port = edge.ready.listeners.cached.port;
  const miss = await rawUntil(port, get('/obs/o', 'Connection: close\r\n'), () => false);
  const hit = await rawUntil(port, get('/obs/o', 'Connection: close\r\n'), () => false);
  assert.match(hit, /cache-status: Switchyard; hit/i);
  // rawUntil reads latin1: one char per byte
  assert.match(miss, /\r\nX-Name: caf\u00e9\r\n/);
  assert.match(hit, /\r\nx-name: caf\u00e9\r\n/, JSON.stringify(/x-name: [^\r]*/.exec(hit)?.[0]));
});
