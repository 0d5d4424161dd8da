// Property tests of the request-head parser: random and mutated heads never crash it, valid heads
// round-trip, on a grammar where both must agree its verdicts match llhttp's (node:http's parser), and
// whatever a client lists in Connection, llhttp behind the proxy parses exactly the request that was sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { RequestHead, parseRequestHead } from '../../../src/l7/parse/request-head.ts';
import { findHeadEnd } from '../../../src/l7/parse/chars.ts';
import { startProxy, rawExchange, startLlhttpOrigin, waitFor } from './helpers.ts';

const VERDICTS = new Set([0, 400, 417, 431, 501, 505]);

/** Our verdict on a byte string: 0 accepted, else the status; -1 when the head is incomplete. */
function verdict(bytes: Buffer): number {
  let start = 0;
  while (start < bytes.length && (bytes[start] === 13 || bytes[start] === 10)) start++;
  const end = findHeadEnd(bytes, start, start, bytes.length);
  if (end === -2) return 400;
  if (end === -1) return -1;
  const raw = Buffer.from(bytes.subarray(start, end));
  return parseRequestHead(raw, raw.length, new RequestHead(), 'x-request-id');
}

test('random bytes never crash the parser', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const v = verdict(Buffer.from(bytes));
      assert.ok(v === -1 || VERDICTS.has(v));
    }),
    { numRuns: 3000 },
  );
});

const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/);
const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/);
const pathSegment = fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,12}$/);
const reserved = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'upgrade', 'x-request-id']);
const validHead = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'X-CUSTOM'),
  path: fc.array(pathSegment, { maxLength: 5 }).map((parts) => '/' + parts.join('/')),
  query: fc.option(fc.stringMatching(/^[A-Za-z0-9=&%._-]{0,20}$/), { nil: undefined }),
  host: fc.stringMatching(/^[a-z0-9-]{1,10}(\.[a-z0-9-]{1,10}){0,3}$/),
  headers: fc.array(fc.tuple(token.filter((name) => !reserved.has(name.toLowerCase()) && !name.toLowerCase().startsWith('x-forwarded')), value), { maxLength: 20 }),
});

test('valid heads round-trip: method, target, host and every header name/value', () => {
  fc.assert(
    fc.property(validHead, (h) => {
      const target = h.path + (h.query !== undefined ? '?' + h.query : '');
      const text = `${h.method} ${target} HTTP/1.1\r\nHost: ${h.host}\r\n` + h.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n';
      const raw = Buffer.from(text, 'latin1');
      const head = new RequestHead();
      assert.equal(parseRequestHead(raw, raw.length, head, 'x-request-id'), 0, text);
      assert.equal(head.method, h.method);
      assert.equal(head.target, target);
      assert.equal(head.path, h.path);
      assert.equal(head.hostname, h.host);
      assert.equal(head.headerCount, h.headers.length + 1);
      h.headers.forEach(([name, v], i) => {
        const o = (i + 1) * 4;
        assert.equal(raw.toString('latin1', head.offsets[o], head.offsets[o + 1]), name);
        assert.equal(raw.toString('latin1', head.offsets[o + 2], head.offsets[o + 3]), v);
      });
    }),
    { numRuns: 1000 },
  );
});

test('mutated valid heads never crash the parser', () => {
  fc.assert(
    fc.property(validHead, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (h, mutations) => {
      const text = `${h.method} ${h.path} HTTP/1.1\r\nHost: ${h.host}\r\n` + h.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n';
      const bytes = Buffer.from(text, 'latin1');
      for (const [at, byte] of mutations) bytes[at % bytes.length] = byte;
      const v = verdict(bytes);
      assert.ok(v === -1 || VERDICTS.has(v));
    }),
    { numRuns: 3000 },
  );
});

// ---- differential against llhttp ----

let server: http.Server;
let port: number;

before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** llhttp's verdict through a real node:http server: true when the request reached the handler. */
function llhttpAccepts(bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text.startsWith('HTTP/1.1 200'));
    });
    socket.on('error', () => {});
  });
}

// Elements where RFC 9112, llhttp (strict) and this parser all agree; each may be valid or broken.
const element = fc.oneof(
  value.map((v) => `X-Ok: ${v}\r\n`),
  fc.constant('X-Ctl: a\x01b\r\n'),
  fc.constant('X-Del: a\x7fb\r\n'),
  fc.constant('Bad Name: x\r\n'),
  fc.constant('Bad(Name): x\r\n'),
  fc.constant('X-Fold: a\r\n folded\r\n'),
  fc.constant('Content-Length: 3\r\nTransfer-Encoding: chunked\r\n'),
  fc.constant('Content-Length: 3\r\nContent-Length: 4\r\n'),
  fc.constant('Content-Length: abc\r\n'),
  fc.constant('X-Space : x\r\n'),
);

test('verdicts agree with llhttp on heads built from shared rules', { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'G(T'),
      fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
      fc.array(element, { maxLength: 4 }),
      async (method, version, elements) => {
        const head = `${method} /x ${version}\r\nHost: a.test\r\n${elements.join('')}Connection: close\r\n\r\n`;
        const bytes = Buffer.from(head, 'latin1');
        const ours = verdict(bytes) === 0;
        // a request that declares a body gets an empty one here: its framing is what is under test
        const llhttp = await llhttpAccepts(bytes);
        assert.equal(ours, llhttp, JSON.stringify(head));
      },
    ),
    { numRuns: 150 },
  );
});

// ---- smuggling through Connection, end to end: what llhttp (the origin) understands from what we send ----

const framingToken = fc.constantFrom('transfer-encoding', 'content-length', 'host', 'te', 'upgrade', 'keep-alive', 'close', 'x-hop');
/** A body that is itself a request (what a smuggler hides), or plain bytes. */
const payload = fc.oneof(fc.constant('GET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n'), fc.stringMatching(/^[ -~]{1,60}$/));

test('Connection listing framing headers never changes what llhttp parses upstream', { timeout: 60_000 }, async () => {
  const origin = await startLlhttpOrigin();
  const proxies = [
    await startProxy({ routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } }),
    await startProxy({ request_buffering: { enabled: false }, routes: [{ pool: 'app' }] }, { app: { backends: [{ address: origin.address }] } }),
  ];
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(framingToken, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        payload,
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 1 }),
        async (tokens, chunked, body, chunkSize, which) => {
          origin.seen.length = 0;
          let encoded = body;
          if (chunked) {
            encoded = '';
            for (let at = 0; at < body.length; at += chunkSize) encoded += `${Math.min(chunkSize, body.length - at).toString(16)}\r\n${body.slice(at, at + chunkSize)}\r\n`;
            encoded += '0\r\n\r\n';
          }
          const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`;
          const head = `POST /upload HTTP/1.1\r\nHost: a.test\r\n${framing}\r\nTE: trailers\r\nX-Hop: 1\r\nConnection: ${tokens.join(', ')}\r\n\r\n`;
          const result = await rawExchange(proxies[which].port, head + encoded, { responses: 1 });
          assert.equal(result.responses[0]?.status, 200, result.text);
          assert.ok(await waitFor(() => origin.seen.length >= 1));
          // exactly the one valid request, with its Host and its body, nothing after it
          await new Promise((resolve) => setImmediate(resolve));
          assert.equal(origin.seen.length, 1);
          assert.equal(origin.seen[0].url, '/upload');
          assert.equal(origin.seen[0].headers.host, 'a.test');
          assert.equal(origin.seen[0].body.toString('latin1'), body);
          assert.deepEqual(origin.errors, []);
        },
      ),
      { numRuns: 150 },
    );
  } finally {
    for (const proxy of proxies) await proxy.stop();
    await origin.close();
  }
});
