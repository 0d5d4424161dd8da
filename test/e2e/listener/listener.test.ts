// The listener layer through the real process: HAProxy (TCP mode, send-proxy / send-proxy-v2) in front of
// http, https and tcp listeners with accept_proxy_protocol (and a client writing its own header to an h2c
// one); the origin sees the real client (a client bound to 127.0.0.2, while HAProxy connects from
// 127.0.0.1). PROXY headers from unlisted sources are plain traffic, malformed ones close the connection
// before anything reaches the origin, and access allow/deny refuses by client address.
// max_connections over the kinds: max-connections.test.ts.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import http2 from 'node:http2';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { startRecordingOrigin, startTcpEchoOrigin, type RecordingOrigin, type TcpEchoOrigin } from '../../support/origins.ts';
import { startHaproxy, type RunningHaproxy } from './haproxy.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

interface Reply {
  /** Everything the server sent before it closed. */
  text: string;
  /** Whether the connection ended with a reset rather than a close. */
  reset: boolean;
}

/** Connects (from `from`), writes `payload` (then half-closes with `end`), and collects what comes back until the server closes. */
function exchange(port: number, payload: string | Buffer, from = '127.0.0.2', end = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    let text = '';
    let reset = false;
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`no close within 5s; got ${JSON.stringify(text)}`))), 5000);
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('error', () => (reset = true));
    socket.once('connect', () => (end ? socket.end(payload) : socket.write(payload)));
    socket.once('close', () => (clearTimeout(timer), resolve({ text, reset })));
  });
}

/** A TCP connection from 127.0.0.2 (TLS goes over it: tls.connect takes no local address). */
const fromSecondAddress = (port: number): net.Socket => net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });

const request = (path: string): string => `GET ${path} HTTP/1.1\r\nhost: edge.test\r\nconnection: close\r\n\r\n`;

/** The head the origin received for the request to `path`. */
function originHead(origin: RecordingOrigin, path: string): string {
  const received = origin.received();
  const start = received.indexOf(`GET ${path} `);
  assert.ok(start >= 0, `the origin never saw ${path}`);
  return received.slice(start, received.indexOf('\r\n\r\n', start)).toLowerCase();
}

let origin: RecordingOrigin;
let tcpOrigin: TcpEchoOrigin;
let edge: RunningSwitchyard;
let haproxy: RunningHaproxy;
/** HAProxy frontends, by what they forward to and how. */
let via: { webV2: number; webV1: number; secureV1: number; rawV2: number };

before(async () => {
  origin = await startRecordingOrigin();
  cleanups.push(() => origin.close());
  tcpOrigin = await startTcpEchoOrigin();
  cleanups.push(() => tcpOrigin.close());
  edge = await runSwitchyard(`
pools:
  web: { backends: [ { address: ${origin.address} } ] }
  raw: { backends: [ { address: 127.0.0.1:${tcpOrigin.port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    accept_proxy_protocol: [127.0.0.1/32]
    access: { deny: [127.0.0.3] }
    timeouts: { proxy_protocol: 1s }
    forwarded: { headers: [x-forwarded-for, x-real-ip] }
    routes: [ { match: { path_prefix: / }, pool: web } ]
  - name: secure
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true }
    accept_proxy_protocol: [127.0.0.1/32]
    forwarded: { headers: [x-forwarded-for] }
    routes: [ { match: { path_prefix: / }, pool: web } ]
  - name: cleartext
    listen: 127.0.0.1:0
    protocol: h2c
    accept_proxy_protocol: [127.0.0.1/32]
    forwarded: { headers: [x-forwarded-for] }
    routes: [ { match: { path_prefix: / }, pool: web } ]
  - name: raw
    listen: 127.0.0.1:0
    protocol: tcp
    pool: raw
    accept_proxy_protocol: [127.0.0.1/32]
    access: { allow: [127.0.0.1, 127.0.0.2] }
    proxy_protocol: v1
`);
  cleanups.push(() => edge.stop());
  const port = (name: string): number => edge.ready.listeners[name].port;
  haproxy = await startHaproxy([
    { backendPort: port('web'), send: 'send-proxy-v2' },
    { backendPort: port('web'), send: 'send-proxy' },
    { backendPort: port('secure'), send: 'send-proxy' },
    { backendPort: port('raw'), send: 'send-proxy-v2' },
  ]);
  cleanups.push(() => haproxy.stop());
  const [webV2, webV1, secureV1, rawV2] = haproxy.ports;
  via = { webV2, webV1, secureV1, rawV2 };
});

/** One GET on the session, then the session is closed: the response's status. */
async function h2Status(session: http2.ClientHttp2Session, pathname: string): Promise<number> {
  try {
    return await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':path': pathname });
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.on('error', reject);
      stream.resume();
    });
  } finally {
    session.close();
  }
}

test('http listener behind haproxy (v2 and v1): the origin and the access log see the real client', { timeout: 30_000 }, async () => {
  for (const [name, port] of [['v2', via.webV2], ['v1', via.webV1]] as const) {
    const reply = await exchange(port, request(`/real-client-${name}`));
    assert.match(reply.text, /^HTTP\/1\.1 200 /, name);
    const head = originHead(origin, `/real-client-${name}`);
    assert.match(head, /\r\nx-forwarded-for: 127\.0\.0\.2\r\n/, name);
    assert.match(head, /\r\nx-real-ip: 127\.0\.0\.2(\r\n|$)/, name);
    const log = await edge.waitForLine((line) => line.path === `/real-client-${name}`);
    assert.equal(log.client, '127.0.0.2', name);
  }
});

test('https listener behind haproxy: the PROXY header precedes the TLS handshake; http/1.1 and h2 see the real client', { timeout: 30_000 }, async () => {
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = tls.connect({ socket: fromSecondAddress(via.secureV1), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('error', reject);
    socket.once('secureConnect', () => socket.write(request('/tls-h1')));
    socket.once('close', () => resolve(text));
  });
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.match(originHead(origin, '/tls-h1'), /\r\nx-forwarded-for: 127\.0\.0\.2(\r\n|$)/);

  const session = http2.connect(`https://127.0.0.1:${via.secureV1}`, {
    createConnection: () => tls.connect({ socket: fromSecondAddress(via.secureV1), rejectUnauthorized: false, ALPNProtocols: ['h2'] }),
  });
  assert.equal(await h2Status(session, '/tls-h2'), 200);
  assert.match(originHead(origin, '/tls-h2'), /\r\nx-forwarded-for: 127\.0\.0\.2(\r\n|$)/);
  const log = await edge.waitForLine((line) => line.path === '/tls-h2');
  assert.equal(log.client, '127.0.0.2');
});

test('tcp listener behind haproxy: the PROXY-aware origin and the access log get the real client', { timeout: 30_000 }, async () => {
  const before = tcpOrigin.firstBytes.length;
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = net.connect({ port: via.rawV2, host: '127.0.0.1', localAddress: '127.0.0.2' });
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk;
      if (text.endsWith('ping')) socket.end();
    });
    socket.on('error', reject);
    socket.once('connect', () => socket.write('ping'));
    socket.once('close', () => resolve(text));
  });
  // the origin echoes Switchyard's own (v1) header, then the client's bytes
  assert.match(reply, /^PROXY TCP4 127\.0\.0\.2 127\.0\.0\.1 \d+ \d+\r\nping$/);
  assert.match(tcpOrigin.firstBytes[before].toString('latin1'), /^PROXY TCP4 127\.0\.0\.2 /);
  const log = await edge.waitForLine((line) => line.listener === 'raw' && line.client === '127.0.0.2');
  assert.equal(log.outcome, 'success');
});

test('a PROXY header from a source not in accept_proxy_protocol is plain traffic: a bad request, no spoofed client', { timeout: 30_000 }, async () => {
  const reply = await exchange(edge.ready.listeners.web.port, `PROXY TCP4 203.0.113.9 127.0.0.1 4000 80\r\n${request('/spoofed')}`, '127.0.0.2');
  assert.match(reply.text, /^HTTP\/1\.1 400 /);
  assert.ok(!origin.received().includes('/spoofed'));
  assert.ok(!origin.received().includes('203.0.113.9'));
});

test('a listed source must send a well-formed header: malformed, missing or truncated ones close the connection before the origin', { timeout: 30_000 }, async () => {
  const port = edge.ready.listeners.web.port;
  const v2 = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const cases: [string, Buffer][] = [
    ['no header', Buffer.from(request('/fuzz-none'))],
    ['v1 lf only', Buffer.from(`PROXY TCP4 198.51.100.1 127.0.0.1 1 2\n${request('/fuzz-lf')}`)],
    ['v1 bad family', Buffer.from(`PROXY TCP9 198.51.100.1 127.0.0.1 1 2\r\n${request('/fuzz-family')}`)],
    ['v1 bad port', Buffer.from(`PROXY TCP4 198.51.100.1 127.0.0.1 70000 2\r\n${request('/fuzz-port')}`)],
    ['v1 too long', Buffer.from(`PROXY TCP4 ${'9'.repeat(200)}\r\n${request('/fuzz-long')}`)],
    ['v2 version 3', Buffer.concat([v2, Buffer.from([0x31, 0x11, 0x00, 0x0c]), Buffer.alloc(12), Buffer.from(request('/fuzz-v3'))])],
    ['v2 udp', Buffer.concat([v2, Buffer.from([0x21, 0x12, 0x00, 0x0c]), Buffer.alloc(12), Buffer.from(request('/fuzz-udp'))])],
    ['v2 short address block', Buffer.concat([v2, Buffer.from([0x21, 0x11, 0x00, 0x04]), Buffer.alloc(4), Buffer.from(request('/fuzz-short'))])],
    ['v2 oversized', Buffer.concat([v2, Buffer.from([0x21, 0x11, 0xff, 0xff]), Buffer.alloc(64)])],
  ];
  const connectionsBefore = origin.connections();
  for (const [name, payload] of cases) {
    const reply = await exchange(port, payload, '127.0.0.1');
    assert.equal(reply.text, '', `${name}: nothing is answered`);
  }
  // a truncated header, then the client goes away
  const truncated = await exchange(port, Buffer.from('PROXY TCP4 198.51.100.1'), '127.0.0.1').catch((err: Error) => err);
  assert.ok(truncated instanceof Error || truncated.text === '', 'a truncated header is never answered');
  assert.equal(origin.connections(), connectionsBefore, 'nothing reached the origin');
  assert.ok(!origin.received().includes('/fuzz-'));
  const status = await fetch(`http://127.0.0.1:${edge.ready.listeners.web.port}/`).catch(() => undefined);
  assert.equal(status, undefined, 'a plain request from a listed source (127.0.0.1) is refused too');
});

test('access deny refuses by client address: the TCP peer, or the client a trusted PROXY header names', { timeout: 30_000 }, async () => {
  const port = edge.ready.listeners.web.port;
  const allowed = await exchange(port, request('/access-allowed'), '127.0.0.2');
  assert.match(allowed.text, /^HTTP\/1\.1 200 /);
  const denied = await exchange(port, request('/access-denied'), '127.0.0.3');
  assert.equal(denied.text, '');
  const deniedViaProxy = await exchange(via.webV2, request('/access-denied-proxied'), '127.0.0.3');
  assert.equal(deniedViaProxy.text, '');
  assert.ok(!origin.received().includes('/access-denied'));
});

test('access allow serves only the listed clients (a tcp listener): 127.0.0.2 is piped, 127.0.0.3 closed at accept', { timeout: 30_000 }, async () => {
  const port = edge.ready.listeners.raw.port;
  const before = tcpOrigin.connections();
  // 127.0.0.1 is an accept_proxy_protocol source: it would have to send a header, so the allowed client is .2
  const allowed = await exchange(port, 'hello', '127.0.0.2', true);
  assert.match(allowed.text, /^PROXY TCP4 127\.0\.0\.2 /);
  assert.match(allowed.text, /hello$/);
  const refused = await exchange(port, 'hello', '127.0.0.3', true);
  assert.equal(refused.text, '');
  assert.equal(tcpOrigin.connections(), before + 1, 'only the allowed client reached the origin');
});

test('https: a PROXY header and the TLS ClientHello in one segment; the handshake reads on from the byte after the header', { timeout: 30_000 }, async () => {
  const raw = net.connect({ port: edge.ready.listeners.secure.port, host: '127.0.0.1' });
  await new Promise((resolve) => raw.once('connect', resolve));
  // corked: the header and the ClientHello tls.connect writes go out in one write
  raw.cork();
  raw.write('PROXY TCP6 2001:db8::9 ::1 40000 443\r\n');
  const secure = tls.connect({ socket: raw, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  process.nextTick(() => raw.uncork());
  const reply = await new Promise<string>((resolve, reject) => {
    let text = '';
    secure.on('data', (chunk) => (text += chunk));
    secure.on('error', reject);
    secure.once('secureConnect', () => secure.write(request('/coalesced')));
    secure.once('close', () => resolve(text));
  });
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.match(originHead(origin, '/coalesced'), /\r\nx-forwarded-for: 2001:db8::9(\r\n|$)/);
});

test('h2c: after the PROXY header the preface sniff sends HTTP/2 to the codec and HTTP/1.1 to the L7 core, both with the named client', { timeout: 30_000 }, async () => {
  const port = edge.ready.listeners.cleartext.port;
  const withHeader = (client: string): net.Socket => {
    const raw = net.connect({ port, host: '127.0.0.1' });
    raw.write(`PROXY TCP4 ${client} 127.0.0.1 5000 80\r\n`);
    return raw;
  };
  const session = http2.connect(`http://127.0.0.1:${port}`, { createConnection: () => withHeader('198.51.100.21') });
  assert.equal(await h2Status(session, '/h2c-proxied'), 200);
  assert.match(originHead(origin, '/h2c-proxied'), /\r\nx-forwarded-for: 198\.51\.100\.21(\r\n|$)/);

  const raw = withHeader('198.51.100.22');
  const reply = await new Promise<string>((resolve) => {
    let text = '';
    raw.on('data', (chunk) => (text += chunk));
    raw.on('error', () => undefined);
    raw.write(request('/h2c-http1-proxied'));
    raw.once('close', () => resolve(text));
  });
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.match(originHead(origin, '/h2c-http1-proxied'), /\r\nx-forwarded-for: 198\.51\.100\.22(\r\n|$)/);
});

