// HTTP/1.1 pools with `tls:` against a real `switchyard start`: an HTTPS origin (node:https, certificate
// from a CA made by src/tls's self-signed code) reached by HTTP/1.1 and HTTP/2 clients, with the pool's
// CA and server name; keep-alive reuse, session resumption, a POST body and an upgrade tunnel over TLS;
// a pool that trusts another CA answers 502 (and its HTTP health check marks the backend down), the same
// pool with `verify: false` works, and the HTTP health check of the right pool goes over TLS too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { copyFile, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { makeCert, tempDir } from '../tls/support.ts';
import { startEchoOrigin, startSilentOrigin, type Origin } from '../../support/origins.ts';

interface Seen {
  path: string;
  method: string;
  servername: string;
  alpn: string;
  reused: boolean;
  connection: number;
  userAgent: string;
  body: string;
}

let dir: { dir: string; remove: () => Promise<void> };
let origin: https.Server;
let originAddress: string;
let edge: RunningSwitchyard;
/** A plaintext HTTP origin: a TLS handshake with it fails (a connect error). */
let plain: Origin;
/** Accepts TCP, never answers: the handshake cannot finish. */
let silent: Origin;
let rightCa: string;
let otherCa: string;
const seen: Seen[] = [];
let connections = 0;
const connectionIds = new WeakMap<object, number>();

before(async () => {
  dir = await tempDir('sy-up-tls-');
  const cert = await makeCert(`${dir.dir}/right`, 'origin', ['origin.internal']);
  const other = await makeCert(`${dir.dir}/other`, 'other', ['origin.internal']);
  rightCa = cert.caCert;
  otherCa = other.caCert;
  origin = https.createServer({ cert: await readFile(cert.cert), key: await readFile(cert.key), ALPNProtocols: ['http/1.1'] }, (req, res) => {
    const socket = req.socket as TLSSocket;
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({
        path: req.url ?? '',
        method: req.method ?? '',
        servername: String(socket.servername),
        alpn: String(socket.alpnProtocol),
        reused: socket.isSessionReused(),
        connection: connectionIds.get(socket) ?? -1,
        userAgent: req.headers['user-agent'] ?? '',
        body,
      });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`tls ${socket.servername} ${socket.alpnProtocol} ${body.length}`);
    });
  });
  origin.on('secureConnection', (socket) => connectionIds.set(socket, ++connections));
  // an upgrade over TLS: 101, then every byte comes back upper-cased
  origin.on('upgrade', (req, socket: net.Socket, head: Buffer) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: shout\r\nconnection: upgrade\r\nx-servername: ${(socket as TLSSocket).servername}\r\n\r\n`);
    if (head.length > 0) socket.write(head.toString('latin1').toUpperCase());
    socket.on('data', (data: Buffer) => socket.write(data.toString('latin1').toUpperCase()));
    socket.on('end', () => socket.end());
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originAddress = `127.0.0.1:${(origin.address() as AddressInfo).port}`;
  plain = await startEchoOrigin();
  silent = await startSilentOrigin();
  const pool = (ca: string, extra = '') => `
    tls: { ca: ${ca}, servername: origin.internal${extra} }
    backends: [ { address: "${originAddress}" } ]`;
  edge = await runSwitchyard(`
log: { access_log: stdout }
pools:
  secure:${pool(cert.caCert)}
    health: { type: http, path: /healthz, interval: 300ms, timeout: 2s, rise: 1, fall: 1 }
  fresh:${pool(cert.caCert)}
    keepalive: { max_idle: 0 }
  wrong:${pool(other.caCert)}
    retries: { attempts: 0 }
  wrong_checked:${pool(other.caCert)}
    health: { type: http, path: /healthz, interval: 300ms, timeout: 2s, rise: 1, fall: 1 }
  unverified:${pool(other.caCert, ', verify: false')}
  single:${pool(cert.caCert)}
    max_connections: 1
  retrying:
    tls: { ca: ${cert.caCert}, servername: origin.internal }
    backends: [ { address: "${plain.address}" }, { address: "${originAddress}" } ]
  silent:
    tls: { ca: ${cert.caCert}, servername: origin.internal }
    retries: { attempts: 0 }
    backends: [ { address: "${silent.address}" } ]
listeners:
  - name: web
    listen: 127.0.0.1:0
    timeouts: { upstream_connect: 500ms }
    routes:
      - { match: { path_prefix: /fresh/ }, pool: fresh }
      - { match: { path_prefix: /single/ }, pool: single }
      - { match: { path_prefix: /retrying/ }, pool: retrying }
      - { match: { path_prefix: /silent/ }, pool: silent }
      - { match: { path_prefix: /wrong/ }, pool: wrong }
      - { match: { path_prefix: /unverified/ }, pool: unverified }
      - { match: { path_prefix: / }, pool: secure }
  - name: h2
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
      - { match: { path_prefix: / }, pool: secure }
`);
});

after(async () => {
  await edge?.stop();
  await plain?.close();
  await silent?.close();
  origin?.closeAllConnections();
  await new Promise<void>((resolve) => (origin ? origin.close(() => resolve()) : resolve()));
  await dir?.remove();
});

/** One HTTP/1.1 request through the edge on `agent` (keep-alive when given). */
function get(path: string, options: { method?: string; body?: string; agent?: http.Agent } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(edge.url('web', path), { method: options.method ?? 'GET', agent: options.agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

const requestsTo = (prefix: string): Seen[] => seen.filter((one) => one.path.startsWith(prefix));

test('HTTP/1.1 requests reach the HTTPS origin with the pool SNI and ALPN http/1.1, over reused keep-alive connections', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 10; i++) {
      const answer = await get(`/keep/${i}`, { agent });
      assert.equal(answer.status, 200);
      assert.equal(answer.body, 'tls origin.internal http/1.1 0');
    }
  } finally {
    agent.destroy();
  }
  const arrived = requestsTo('/keep/');
  assert.equal(arrived.length, 10);
  assert.ok(arrived.every((one) => one.servername === 'origin.internal' && one.alpn === 'http/1.1'));
  const used = new Set(arrived.map((one) => one.connection));
  assert.ok(used.size < arrived.length, `10 requests over ${used.size} TLS connections`);
});

test('a POST body goes up over TLS', async () => {
  const body = 'x'.repeat(100_000);
  const answer = await get('/post', { method: 'POST', body });
  assert.equal(answer.status, 200);
  assert.equal(answer.body, `tls origin.internal http/1.1 ${body.length}`);
  const arrived = requestsTo('/post').at(-1)!;
  assert.equal(arrived.method, 'POST');
  assert.equal(arrived.body, body);
});

test('a reconnect resumes the TLS session (keepalive.max_idle: 0 closes every connection after its request)', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await get(`/fresh/${i}`)).status, 200);
  const arrived = requestsTo('/fresh/');
  assert.equal(new Set(arrived.map((one) => one.connection)).size, 3, 'one connection per request');
  assert.equal(arrived[0].reused, false);
  assert.ok(arrived.slice(1).every((one) => one.reused), 'later connections resume with the last session ticket');
});

test('HTTP/2 clients reach the TLS HTTP/1.1 upstream through the bridge', async () => {
  const address = edge.ready.listeners.h2;
  const client = http2.connect(`http://127.0.0.1:${address.port}`);
  try {
    const answers = await Promise.all(
      [0, 1, 2].map(
        (i) =>
          new Promise<{ status: number; body: string }>((resolve, reject) => {
            const stream = client.request({ ':path': `/h2/${i}`, ':method': 'POST' });
            let status = 0;
            let body = '';
            stream.on('response', (headers) => (status = Number(headers[':status'])));
            stream.setEncoding('utf8');
            stream.on('data', (chunk: string) => (body += chunk));
            stream.on('end', () => resolve({ status, body }));
            stream.on('error', reject);
            stream.end('hello');
          }),
      ),
    );
    for (const answer of answers) assert.deepEqual(answer, { status: 200, body: 'tls origin.internal http/1.1 5' });
  } finally {
    client.close();
  }
  const arrived = requestsTo('/h2/');
  assert.equal(arrived.length, 3);
  assert.ok(arrived.every((one) => one.servername === 'origin.internal' && one.alpn === 'http/1.1' && one.body === 'hello'));
});

test('an upgrade tunnels over the TLS upstream after 101', async () => {
  const address = edge.ready.listeners.web;
  const socket = net.connect(address.port, '127.0.0.1');
  socket.setEncoding('latin1');
  let received = '';
  const receive = (until: (text: string) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (until(received)) {
          socket.off('data', onData);
          resolve();
        }
      };
      const onData = (chunk: string) => {
        received += chunk;
        check();
      };
      socket.on('data', onData);
      socket.once('error', reject);
      check();
    });
  try {
    socket.write('GET /shout HTTP/1.1\r\nhost: example.test\r\nconnection: upgrade\r\nupgrade: shout\r\n\r\n');
    await receive((text) => text.includes('\r\n\r\n'));
    assert.match(received, /^HTTP\/1\.1 101 /);
    assert.match(received, /x-servername: origin\.internal/i);
    received = '';
    socket.write('hello over tls');
    await receive((text) => text === 'HELLO OVER TLS');
  } finally {
    socket.destroy();
  }
});

test('a pool that trusts another CA answers 502, logs the certificate error once, and its health check marks the backend down', async () => {
  for (let i = 0; i < 2; i++) assert.equal((await get(`/wrong/${i}`)).status, 502);
  assert.equal(requestsTo('/wrong/').length, 0, 'no request reached the origin');
  const access = await edge.waitForLine((line) => line.path === '/wrong/1' && line.status === 502);
  assert.equal(access.pool, 'wrong');
  const reason = await edge.waitForLine((line) => line.pool === 'wrong' && typeof line.msg === 'string' && line.msg.includes('tls handshake'));
  assert.match(String(reason.reason), /certificate/i);
  assert.equal(edge.lines.filter((line) => line.pool === 'wrong' && typeof line.msg === 'string' && line.msg.includes('tls handshake')).length, 1, 'one line for the failing spell, not one per request');
  const down = await edge.waitForLine((line) => line.pool === 'wrong_checked' && line.msg === 'backend down');
  assert.match(String(down.reason), /^tls: .*certificate/);
});

test('verify: false connects to an origin whose certificate the CA does not vouch for, and says so at load', async () => {
  const answer = await get('/unverified/x');
  assert.equal(answer.status, 200);
  assert.equal(answer.body, 'tls origin.internal http/1.1 0');
  const warning = await edge.waitForLine((line) => line.pool === 'unverified' && typeof line.msg === 'string' && line.msg.includes('verify'));
  assert.equal(warning.level, 'warn');
});

test('the HTTP health check of a TLS pool goes over TLS with the pool SNI', async () => {
  const deadline = Date.now() + 10_000;
  while (!seen.some((one) => one.userAgent === 'switchyard-health-check')) {
    assert.ok(Date.now() < deadline, 'a health check reached the origin');
    await new Promise<void>((resolve) => origin.once('request', () => setImmediate(resolve)));
  }
  const probe = seen.find((one) => one.userAgent === 'switchyard-health-check')!;
  assert.equal(probe.path, '/healthz');
  assert.equal(probe.servername, 'origin.internal');
  assert.equal(probe.alpn, 'http/1.1');
  assert.ok(!edge.lines.some((line) => line.pool === 'secure' && line.msg === 'backend down'), 'the right CA keeps the backend up');
});

test('max_connections: 1 queues concurrent requests onto one TLS connection', async () => {
  const answers = await Promise.all([0, 1, 2, 3, 4].map((i) => get(`/single/${i}`)));
  assert.ok(answers.every((answer) => answer.status === 200));
  assert.equal(new Set(requestsTo('/single/').map((one) => one.connection)).size, 1);
});

test('a failed handshake is a connect error: retried on the next backend', async () => {
  for (let i = 0; i < 4; i++) assert.equal((await get(`/retrying/${i}`)).status, 200);
  assert.equal(requestsTo('/retrying/').length, 4);
  const retried = await edge.waitForLine((line) => String(line.path).startsWith('/retrying/') && line.attempts === 2);
  assert.deepEqual(retried.tried, [plain.address]);
  assert.equal(retried.backend, originAddress);
});

test('upstream_connect covers the TLS handshake: a backend that never answers it gets 504', async () => {
  const started = Date.now();
  assert.equal((await get('/silent/x')).status, 504);
  const took = Date.now() - started;
  assert.ok(took >= 450 && took < 5000, `answered after ${took} ms`);
  assert.equal(silent.connections(), 1, 'TCP connected, the handshake did not finish');
});

test('a reload reads tls.ca again: the pool that trusted another CA now reaches the origin', async () => {
  await copyFile(rightCa, otherCa);
  edge.process.kill('SIGHUP');
  await edge.waitForLine((line) => line.msg === 'reloaded');
  assert.equal((await get('/wrong/after-reload')).status, 200);
  await edge.waitForLine((line) => line.pool === 'wrong' && typeof line.msg === 'string' && line.msg.includes('succeeds again'));
});
