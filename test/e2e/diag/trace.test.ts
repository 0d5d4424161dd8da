// switchyard trace against a local HTTPS server (certificates from openssl in a temp dir) that answers
// after a delay with Server-Timing (app, db; edge phases when the admin token is sent), resolving through a
// tiny DNS server with a CNAME chain. Checks every phase, their order and plausibility, the trace id the
// server really received, and one-line failures at each layer.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { startTinyDns, type TinyDns } from '../../support/tiny-dns.ts';
import { assertOneLineFailure, switchyard } from './cli.ts';
import { makeTlsFixtures, type TlsFixtures } from './tls-fixtures.ts';

const APP_DELAY_MS = 40;
const TOKEN = 'test-admin-token';

let fixtures: TlsFixtures;
let dns: TinyDns;
let server: https.Server;
let expired: https.Server;
let plain: http.Server;
let stall: net.Server;
const seen: { traceparent?: string; adminToken?: string; path?: string }[] = [];
const sockets = new Set<net.Socket>();
const port = (s: net.Server): number => (s.address() as net.AddressInfo).port;
const listen = (s: net.Server): Promise<void> => new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));

function app(req: http.IncomingMessage, res: http.ServerResponse): void {
  seen.push({ traceparent: req.headers.traceparent as string, adminToken: req.headers['x-switchyard-trace'] as string, path: req.url });
  if (req.url === '/slow') return; // never answers: the client's timeout must fire
  if (req.url === '/missing') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not here\n');
    return;
  }
  setTimeout(() => {
    const timing = ['app;dur=35.5;desc="users handler"', 'db;dur=12.25;desc="select users"'];
    if (req.headers['x-switchyard-trace'] === TOKEN) {
      timing.unshift('edge_route;dur=0.2;desc="route users"', 'edge_balance;dur=0.1;desc="round_robin 127.0.0.1:9001"', `edge_upstream;dur=${APP_DELAY_MS};start=0.4`);
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'server-timing': timing, traceresponse: String(req.headers.traceparent) });
    res.end('x'.repeat(64 * 1024));
  }, APP_DELAY_MS);
}

before(async () => {
  fixtures = await makeTlsFixtures();
  server = https.createServer({ key: fixtures.key, cert: fixtures.cert }, app);
  expired = https.createServer({ key: fixtures.key, cert: fixtures.expiredCert }, app);
  plain = http.createServer(app);
  stall = net.createServer((socket) => socket.on('error', () => undefined)); // accepts, never handshakes
  for (const s of [server, expired, plain, stall]) {
    s.on('connection', (socket: net.Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await listen(s);
  }
  dns = await startTinyDns({ zone: 'example.test', records: [
    { type: 'SOA', name: 'example.test', ttl: 3600, data: { mname: 'ns1.example.test', rname: 'hostmaster.example.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 } },
    { type: 'CNAME', name: 'app.example.test', ttl: 120, data: 'edge.example.test' },
    { type: 'A', name: 'edge.example.test', ttl: 300, data: '127.0.0.1' },
  ] });
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all([server, expired, plain, stall].map((s) => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()))));
  await dns?.close();
  if (fixtures) await rm(fixtures.dir, { recursive: true, force: true });
});

const dnsFlag = (): string[] => ['--dns', `127.0.0.1:${dns.port}`];

test('trace shows every phase in order with the DNS chain, TLS facts and the merged Server-Timing', async () => {
  const url = `https://app.example.test:${port(server)}/users?id=7`;
  const run = await switchyard(['trace', url, ...dnsFlag(), '--cacert', fixtures.caFile]);
  assert.equal(run.code, 0, run.stderr);
  const out = run.stdout;
  assert.match(out, new RegExp(`^\\* DNS: 127\\.0\\.0\\.1 from 127\\.0\\.0\\.1:${dns.port} in [\\d.]+ms`, 'm'));
  assert.match(out, /^\*\s+app\.example\.test\. 120 IN CNAME edge\.example\.test\.$/m);
  assert.match(out, /^\*\s+edge\.example\.test\. 300 IN A 127\.0\.0\.1$/m);
  assert.match(out, /^\* TLS: TLSv1\.3 TLS_\w+, ALPN http\/1\.1, SNI app\.example\.test$/m);
  assert.match(out, /^\*\s+subject: CN=localhost$/m);
  assert.match(out, /^\*\s+issuer: O=Switchyard Tests, CN=Switchyard Test CA$/m);
  assert.match(out, /^\*\s+expires: \S+ \((9|10) days left\)$/m);
  assert.match(out, /^\*\s+verified: certificate chain and host name OK$/m);
  assert.match(out, /^< HTTP\/1\.1 200 OK$/m);
  assert.match(out, /^\* body: 65536 bytes$/m);
  const labels = ['dns lookup', 'tcp connect', 'tls handshake', 'request sent', 'waiting (ttfb)', '  ├ app', '  └ db', 'download', 'total'];
  const rows = labels.map((label) => out.split('\n').findIndex((line) => line.startsWith(label)));
  assert.ok(rows.every((row, i) => row > 0 && (i === 0 || row > rows[i - 1])), `waterfall rows missing or out of order:\n${out}`);
  // the trace id we printed is the one the server received
  const traceId = /trace id ([0-9a-f]{32})/.exec(out)?.[1];
  assert.ok(traceId);
  assert.ok(seen.at(-1)?.traceparent?.includes(traceId), 'server saw our traceparent');
  assert.match(out, /trace headers from the server \(carry our trace id\)/);
});

test('trace --json: contiguous phases whose timings are plausible', async () => {
  const url = `https://app.example.test:${port(server)}/users`;
  const run = await switchyard(['trace', url, ...dnsFlag(), '--cacert', fixtures.caFile, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.deepEqual(result.phases.map((p: { name: string }) => p.name), ['dns', 'connect', 'tls', 'request', 'wait', 'download']);
  let cursor = 0;
  for (const phase of result.phases) {
    assert.ok(Math.abs(phase.startMs - cursor) < 0.001, `${phase.name} starts where the previous phase ended`);
    assert.ok(phase.durationMs >= 0, phase.name);
    cursor = phase.startMs + phase.durationMs;
  }
  assert.ok(Math.abs(cursor - result.totalMs) < 0.001);
  const byName = Object.fromEntries(result.phases.map((p: { name: string; durationMs: number }) => [p.name, p.durationMs]));
  // libuv rounds timers to whole milliseconds and may fire one early against the client's clock: 2 ms slack
  assert.ok(byName.wait >= APP_DELAY_MS - 2, `the wait covers the server's ${APP_DELAY_MS} ms (got ${byName.wait})`);
  assert.ok(byName.tls > 0 && byName.connect > 0 && byName.dns > 0);
  assert.ok(result.totalMs < 5000);
  assert.deepEqual(result.serverTiming.map((e: { name: string; durationMs: number }) => [e.name, e.durationMs]), [['app', 35.5], ['db', 12.25]]);
  assert.deepEqual(result.dns.chain.map((s: { type: string; ttl: number }) => [s.type, s.ttl]), [['CNAME', 120], ['A', 300]]);
  assert.equal(result.tls.certificate.subject, 'CN=localhost');
  assert.equal(result.response.status, 200);
  assert.equal(result.traceIdEchoed, true);
});

test('--admin-token is sent as x-switchyard-trace; the edge phases join the waterfall, the token is not printed', async () => {
  const url = `https://localhost:${port(server)}/users`;
  const run = await switchyard(['trace', url, '--cacert', fixtures.caFile, '--admin-token', TOKEN, '-H', 'X-Demo: 1']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(seen.at(-1)?.adminToken, TOKEN);
  assert.ok(!run.stdout.includes(TOKEN), 'token masked in output');
  assert.match(run.stdout, /^> x-switchyard-trace: \(admin token\)$/m);
  assert.match(run.stdout, /^> x-demo: 1$/m);
  for (const name of ['edge_route', 'edge_balance', 'edge_upstream', 'app']) assert.match(run.stdout, new RegExp(`^  ├ ${name} `, 'm'));
  assert.match(run.stdout, /round_robin 127\.0\.0\.1:9001/);
});

test('plain http: no TLS phase', async () => {
  const run = await switchyard(['trace', `http://127.0.0.1:${port(plain)}/`, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.deepEqual(result.phases.map((p: { name: string }) => p.name), ['dns', 'connect', 'request', 'wait', 'download']);
  assert.equal(result.dns.via, 'literal');
});

test('--insecure goes on past an untrusted certificate and says so', async () => {
  const run = await switchyard(['trace', `https://localhost:${port(server)}/`, '--insecure']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /NOT VERIFIED \(--insecure\): certificate signed by an unknown authority/);
});

test('failures: one line naming the layer, exit 1', async (t) => {
  await t.test('unresolvable name (NXDOMAIN from the chosen server)', async () => {
    assertOneLineFailure(await switchyard(['trace', `https://nope.example.test:${port(server)}/`, ...dnsFlag()]), 'DNS', /cannot resolve nope\.example\.test: NXDOMAIN from 127\.0\.0\.1:\d+/);
  });
  await t.test('refused port', async () => {
    const probe = net.createServer();
    await listen(probe);
    const free = port(probe);
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    assertOneLineFailure(await switchyard(['trace', `https://127.0.0.1:${free}/`]), 'TCP', /connect to 127\.0\.0\.1:\d+ failed: connection refused/);
  });
  await t.test('unknown CA', async () => {
    assertOneLineFailure(await switchyard(['trace', `https://localhost:${port(server)}/`]), 'TLS', /unknown authority .*issuer O=Switchyard Tests, CN=Switchyard Test CA/);
  });
  await t.test('wrong host', async () => {
    const run = await switchyard(['trace', `https://wrong.example.test:${port(server)}/`, '--resolve', `wrong.example.test:${port(server)}:127.0.0.1`, '--cacert', fixtures.caFile]);
    assertOneLineFailure(run, 'TLS', /certificate is for DNS:localhost, .*not wrong\.example\.test/);
  });
  await t.test('expired certificate', async () => {
    assertOneLineFailure(await switchyard(['trace', `https://localhost:${port(expired)}/`, '--cacert', fixtures.caFile]), 'TLS', /certificate expired on 2020-01-02/);
  });
  await t.test('timeout in the TLS handshake', async () => {
    assertOneLineFailure(await switchyard(['trace', `https://localhost:${port(stall)}/`, '--timeout', '1']), 'TLS', /timed out after 1000 ms in the TLS handshake with localhost/);
  });
  await t.test('timeout waiting for the response', async () => {
    assertOneLineFailure(await switchyard(['trace', `https://localhost:${port(server)}/slow`, '--cacert', fixtures.caFile, '--timeout', '1']), 'HTTP', /timed out after 1000 ms waiting for the response to GET \/slow/);
  });
  await t.test('error status', async () => {
    const run = await switchyard(['trace', `https://localhost:${port(server)}/missing`, '--cacert', fixtures.caFile]);
    assertOneLineFailure(run, 'HTTP', /answered 404 Not Found/);
    assert.match(run.stdout, /^< HTTP\/1\.1 404 Not Found$/m);
  });
});
