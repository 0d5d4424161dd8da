// The forward proxy's middleware against hostile or odd origins and clients, on real sockets: a raw TCP
// origin scripted per path (responses that end with the connection, bad chunks, trailers), raw client
// sockets for pipelining, and the real process.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { gunzipSync } from 'node:zlib';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const TEXT = 'compressible line of text\n'.repeat(400);
/** Requests the origin saw, per path. */
const seen = new Map<string, number>();
let originPort: number;
let edge: RunningSwitchyard;

/** What the raw origin writes for a request path; `end` closes the connection after it. */
function script(pathname: string, n: number): { bytes: string; end: boolean } {
  const kind = pathname.split('/')[1];
  if (kind === 'close-length') return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${TEXT.length}\r\nConnection: close\r\n\r\n${TEXT}`, end: true };
  if (kind === 'until-close') return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${TEXT}`, end: true };
  if (kind === 'fresh') return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nContent-Length: ${`fresh #${n}`.length}\r\n\r\nfresh #${n}`, end: false };
  if (kind === 'trailer') return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n6\r\nchunk ${n}\r\n3\r\nend\r\n0\r\nx-sum: 42\r\n\r\n`, end: false };
  if (kind === 'badchunk') return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nchunk ${n}\r\nzz\r\nbad\r\n0\r\n\r\n`, end: false };
  return { bytes: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${`plain #${n}`.length}\r\n\r\nplain #${n}`, end: false };
}

before(async () => {
  const origin = net.createServer((socket) => {
    let buf = '';
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
        const { bytes, end: close } = script(pathname, n);
        if (close) socket.end(bytes, 'latin1');
        else socket.write(bytes, 'latin1');
      }
    });
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originPort = (origin.address() as net.AddressInfo).port;
  cleanups.push(() => new Promise((resolve) => origin.close(resolve)));

  const allow = `allow: { clients: [127.0.0.0/8], hosts: [127.0.0.1], ports: ["1024-65535"], destinations: [127.0.0.0/8] }`;
  edge = await runSwitchyard(`
workers: 1
listeners:
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
