// The forward proxy (`protocol: forward_proxy`) through the real process, driven by curl (-x, and
// --proxytunnel for CONNECT) against loopback HTTP and TLS origins made here, with Debian's squid run on
// the same cases as the reference for what clients expect; then hostile input on raw sockets, with a
// recording origin proving nothing of it reached a destination; SSRF; anonymity; metrics.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runSwitchyard, node24, cliEntry, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { startEchoOrigin, startRecordingOrigin, startSilentOrigin, type EchoOrigin, type RecordingOrigin } from '../../support/origins.ts';
import { startSquid, type RunningSquid } from './squid.ts';
import { lastFreePort, retryOnAddressInUse } from '../../support/ports.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

let dir: string;
let origin: EchoOrigin;
let recording: RecordingOrigin;
let tlsPort: number;
let edge: RunningSwitchyard;
let squid: RunningSquid;

interface CurlResult {
  code: number;
  status: number;
  /** The proxy's answer to CONNECT (0 when none was sent). */
  connect: number;
  body: string;
  /** Each transfer's body, when curl fetched several URLs on one run. */
  bodies: string[];
  headers: string;
}

/** curl writes this after every transfer (-w): the split between bodies, and their statuses. */
const MARK = /\n@@(\d+) (\d+)@@\n/g;

function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    const headersFile = path.join(dir, `h-${Math.random().toString(36).slice(2)}`);
    execFile('curl', ['-s', '-S', '--max-time', '10', '-D', headersFile, '-w', '\n@@%{http_code} %{http_connect}@@\n', ...args], { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      const marks = [...stdout.matchAll(MARK)];
      const last = marks.at(-1);
      const bodies = stdout.split(MARK).filter((_, index) => index % 3 === 0).slice(0, marks.length);
      void readFile(headersFile, 'latin1')
        .catch(() => '')
        .then((headers) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, status: Number(last?.[1] ?? 0), connect: Number(last?.[2] ?? 0), body: bodies.at(-1) ?? '', bodies, headers }),
        );
    });
  });
}

/** Sends raw bytes to a proxy port and reads until the proxy closes (or 5 s): its whole answer. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('error', () => undefined);
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('close', () => resolve(answer));
    socket.write(bytes, 'latin1');
  });
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'switchyard-forward-'));
  await chmod(dir, 0o755);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  origin = await startEchoOrigin({ name: 'plain' });
  cleanups.push(() => origin.close());
  recording = await startRecordingOrigin();
  cleanups.push(() => recording.close());
  // the TLS origin: a self-signed certificate made here
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  const server = https.createServer({ key: await readFile(path.join(dir, 'key.pem')), cert: await readFile(path.join(dir, 'cert.pem')) }, (req, res) => res.end(`tls origin ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tlsPort = (server.address() as net.AddressInfo).port;
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  server.on('connection', (socket) => cleanups.push(async () => socket.destroy()));

  // passwords: Switchyard's file from `switchyard passwd`, squid's from openssl (apr1, which basic_ncsa_auth reads)
  const line = execFileSync(node24, [cliEntry, 'passwd', 'alice'], { input: 's3cret\n', encoding: 'utf8' });
  assert.match(line, /^alice:\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+\n$/);
  await writeFile(path.join(dir, 'proxy.passwd'), `# users of the auth listener\n${line}`);
  const apr1 = execFileSync('openssl', ['passwd', '-apr1', 's3cret'], { encoding: 'utf8' }).trim();
  await writeFile(path.join(dir, 'squid.htpasswd'), `alice:${apr1}\n`, { mode: 0o644 });

  edge = await runSwitchyard(`
admin: { listen: 127.0.0.1:0 }
listeners:
  - name: open
    listen: 127.0.0.1:0
    protocol: forward_proxy
    allow: { clients: [127.0.0.0/8], hosts: [127.0.0.1], ports: ["1024-65535"], connect_ports: [${tlsPort}], destinations: [127.0.0.0/8] }
    timeouts: { upstream_response: 500ms }
  - name: closed
    listen: 127.0.0.1:0
    protocol: forward_proxy
    allow: { clients: [192.0.2.0/24], ports: ["*"], private: true }
  - name: auth
    listen: 127.0.0.1:0
    protocol: forward_proxy
    allow: { clients: [127.0.0.1], hosts: [127.0.0.1], ports: ["1024-65535"], connect_ports: [${tlsPort}], destinations: [127.0.0.1/32] }
    proxy_auth: { file: ${path.join(dir, 'proxy.passwd')}, realm: switchyard }
  - name: ssrf
    listen: 127.0.0.1:0
    protocol: forward_proxy
    allow: { clients: [127.0.0.0/8], ports: ["*"], connect_ports: ["*"] }
  - name: anon
    listen: 127.0.0.1:0
    protocol: forward_proxy
    anonymous: true
    allow: { ports: ["*"], private: true }
`);
  cleanups.push(() => edge.stop());
  squid = await startSquid({ connectPort: tlsPort, host: '127.0.0.1', htpasswd: path.join(dir, 'squid.htpasswd') });
  cleanups.push(() => squid.stop());
});

const port = (listener: string): number => edge.ready.listeners[listener].port;

/** The proxies a shared case runs against: Switchyard's listener and squid's port of the same role. */
function proxies(role: 'open' | 'closed' | 'auth'): [string, number][] {
  return [
    ['switchyard', port(role)],
    ['squid', squid[role]],
  ];
}

test('curl -x: absolute-URI requests reach the origin on kept-alive connections, Via and X-Forwarded-For added', async () => {
  for (const [name, proxy] of proxies('open')) {
    const before = origin.connections();
    const result = await curl(['-x', `http://127.0.0.1:${proxy}`, `http://127.0.0.1:${origin.port}/a?x=1`, `http://127.0.0.1:${origin.port}/b`]);
    assert.equal(result.status, 200, name);
    const [first, second] = result.bodies.map((text) => JSON.parse(text));
    assert.equal(first.url, '/a?x=1', name);
    assert.equal(second.url, '/b', name);
    assert.match(first.headers.via, /1\.1 /, name);
    assert.equal(first.headers['x-forwarded-for'], '127.0.0.1', name);
    assert.equal(first.headers['proxy-connection'], undefined, `${name}: Proxy-Connection is not forwarded`);
    assert.equal(origin.connections() - before, 1, `${name}: both requests on one origin connection`);
  }
  const post = await curl(['-x', `http://127.0.0.1:${port('open')}`, '--data-binary', 'x'.repeat(100_000), `http://127.0.0.1:${origin.port}/post`]);
  assert.equal(JSON.parse(post.body).bodyLength, 100_000);
  const chunked = await curl(['-x', `http://127.0.0.1:${port('open')}`, '-H', 'Transfer-Encoding: chunked', '--data-binary', 'y'.repeat(70_000), `http://127.0.0.1:${origin.port}/chunked`]);
  assert.equal(JSON.parse(chunked.body).bodyLength, 70_000);
  const big = await curl(['-x', `http://127.0.0.1:${port('open')}`, `http://127.0.0.1:${origin.port}/big?bytes=5000000`]);
  assert.equal(big.body.length, 5_000_000);
  const line = await edge.waitForLine((entry) => entry.log === 'access' && entry.listener === 'open' && entry.path === '/a' && entry.reason === 'ok');
  assert.equal(line.status, 200);
});

test('curl -x --proxytunnel: CONNECT to the TLS origin, and to a port outside connect_ports refused', async () => {
  for (const [name, proxy] of proxies('open')) {
    const ok = await curl(['-x', `http://127.0.0.1:${proxy}`, '--proxytunnel', '--cacert', path.join(dir, 'cert.pem'), `https://127.0.0.1:${tlsPort}/secure`]);
    assert.equal(ok.connect, 200, name);
    assert.equal(ok.status, 200, name);
    assert.equal(ok.body, 'tls origin /secure', name);
    const forbidden = await curl(['-x', `http://127.0.0.1:${proxy}`, '--proxytunnel', `http://127.0.0.1:${origin.port}/`]);
    assert.equal(forbidden.connect, 403, `${name}: CONNECT to a port outside the allowed ones`);
  }
  await edge.waitForLine((entry) => entry.log === 'access' && entry.method === 'CONNECT' && entry.reason === 'tunnel' && Number(entry.bytes_out) > 0);
  await edge.waitForLine((entry) => entry.log === 'access' && entry.method === 'CONNECT' && entry.status === 403 && /port not allowed/.test(String(entry.reason)));
});

test('ACL denials: client, host and port answer 403, as squid does', async () => {
  for (const [name, proxy] of proxies('closed')) {
    assert.equal((await curl(['-x', `http://127.0.0.1:${proxy}`, `http://127.0.0.1:${origin.port}/`])).status, 403, `${name}: client`);
  }
  for (const [name, proxy] of proxies('open')) {
    assert.equal((await curl(['-x', `http://127.0.0.1:${proxy}`, `http://localhost:${origin.port}/`])).status, 403, `${name}: host`);
    assert.equal((await curl(['-x', `http://127.0.0.1:${proxy}`, 'http://127.0.0.1:81/'])).status, 403, `${name}: port`);
  }
  for (const reason of ['client not allowed', 'destination host not allowed: localhost', 'destination port not allowed: 81']) {
    await edge.waitForLine((entry) => entry.log === 'access' && entry.status === 403 && entry.reason === reason);
  }
});

test('proxy_auth: 407 with Proxy-Authenticate, then success with the credentials; Proxy-Authorization never forwarded', async () => {
  for (const [name, proxy] of proxies('auth')) {
    const anonymous = await curl(['-x', `http://127.0.0.1:${proxy}`, `http://127.0.0.1:${origin.port}/private`]);
    assert.equal(anonymous.status, 407, name);
    assert.match(anonymous.headers, /^proxy-authenticate: basic realm="switchyard"/im, name);
    const wrong = await curl(['-x', `http://127.0.0.1:${proxy}`, '-U', 'alice:wrong', `http://127.0.0.1:${origin.port}/private`]);
    assert.equal(wrong.status, 407, name);
    const right = await curl(['-x', `http://127.0.0.1:${proxy}`, '-U', 'alice:s3cret', `http://127.0.0.1:${origin.port}/private`]);
    assert.equal(right.status, 200, name);
    assert.equal(JSON.parse(right.body).headers['proxy-authorization'], undefined, `${name}: credentials stay with the proxy`);
    const tunnel = await curl(['-x', `http://127.0.0.1:${proxy}`, '-U', 'alice:s3cret', '--proxytunnel', '--cacert', path.join(dir, 'cert.pem'), `https://127.0.0.1:${tlsPort}/t`]);
    assert.equal(tunnel.body, 'tls origin /t', name);
  }
  await edge.waitForLine((entry) => entry.log === 'access' && entry.listener === 'auth' && entry.status === 200 && entry.user === 'alice');
  await edge.waitForLine((entry) => entry.log === 'access' && entry.listener === 'auth' && entry.status === 407 && entry.reason === 'proxy authentication failed');
});

test('SSRF: destinations resolving to loopback are refused unless allowed', async () => {
  for (const target of [`http://127.0.0.1:${origin.port}/`, `http://localhost:${origin.port}/`]) {
    const result = await curl(['-x', `http://127.0.0.1:${port('ssrf')}`, target]);
    assert.equal(result.status, 403, target);
    assert.match(result.body, /destination address not allowed/);
  }
  const tunnel = await curl(['-x', `http://127.0.0.1:${port('ssrf')}`, '--proxytunnel', `http://127.0.0.1:${recording.port}/`]);
  assert.equal(tunnel.connect, 403);
  assert.equal(recording.connections(), 0, 'no connection reached the loopback origin');
});

test('anonymous: no X-Forwarded-For, Forwarded or X-Real-IP, and a Via without the proxy name', async () => {
  const result = await curl(['-x', `http://127.0.0.1:${port('anon')}`, '-H', 'X-Forwarded-For: 198.51.100.7', '-H', 'Forwarded: for=198.51.100.7', `http://127.0.0.1:${origin.port}/anon`]);
  const { headers } = JSON.parse(result.body);
  assert.equal(headers['x-forwarded-for'], undefined);
  assert.equal(headers.forwarded, undefined);
  assert.equal(headers.via, '1.1 proxy');
  assert.match(result.headers, /^via: 1\.1 proxy\r$/im);
});

test('hostile input is refused with 4xx and nothing reaches the origin; hop-by-hop and Connection-listed fields are dropped', async () => {
  const at = `127.0.0.1:${recording.port}`;
  const cases: [string, string, RegExp][] = [
    ['userinfo in the authority', `GET http://${at}@evil.test/ HTTP/1.1\r\nHost: x\r\n\r\n`, /^HTTP\/1\.1 400 /],
    ['malformed absolute URI', `GET http:/${at}/ HTTP/1.1\r\nHost: x\r\n\r\n`, /^HTTP\/1\.1 400 /],
    ['origin-form target', `GET / HTTP/1.1\r\nHost: ${at}\r\n\r\n`, /^HTTP\/1\.1 400 /],
    ['CONNECT without a port', `CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, /^HTTP\/1\.1 400 /],
    ['CONNECT with a path', `CONNECT ${at}/x HTTP/1.1\r\nHost: ${at}\r\n\r\n`, /^HTTP\/1\.1 400 /],
    ['Content-Length with Transfer-Encoding', `POST http://${at}/ HTTP/1.1\r\nHost: ${at}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, /^HTTP\/1\.1 400 /],
    ['two different Content-Length', `POST http://${at}/ HTTP/1.1\r\nHost: ${at}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`, /^HTTP\/1\.1 400 /],
    ['Transfer-Encoding not ending in chunked', `POST http://${at}/ HTTP/1.1\r\nHost: ${at}\r\nTransfer-Encoding: chunked, identity\r\n\r\n`, /^HTTP\/1\.1 (400|501) /],
    ['obs-fold', `GET http://${at}/ HTTP/1.1\r\nHost: ${at}\r\nX-A: 1\r\n  folded\r\n\r\n`, /^HTTP\/1\.1 400 /],
    ['bare LF', `GET http://${at}/ HTTP/1.1\nHost: ${at}\n\n`, /^HTTP\/1\.1 400 /],
    ['space before the colon', `GET http://${at}/ HTTP/1.1\r\nHost : ${at}\r\n\r\n`, /^HTTP\/1\.1 400 /],
    ['header too large', `GET http://${at}/ HTTP/1.1\r\nHost: ${at}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ['https URI without CONNECT', `GET https://${at}/ HTTP/1.1\r\nHost: ${at}\r\n\r\n`, /^HTTP\/1\.1 400 /],
    ['malformed chunked body', `POST http://${at}/ HTTP/1.1\r\nHost: ${at}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`, /^HTTP\/1\.1 400 /],
  ];
  const sent = recording.received().length;
  for (const [name, bytes, expected] of cases) {
    for (const [proxyName, proxy] of [['switchyard', port('open')] as const]) assert.match(await raw(proxy, bytes), expected, `${proxyName}: ${name}`);
  }
  // A chunked body is checked as it streams: the head of the last case went up (a valid head), its
  // malformed chunk did not; nothing of any other case reached the origin.
  const reached = recording.received().slice(sent);
  assert.match(reached, new RegExp(`^(POST / HTTP/1\\.1\\r\\nHost: ${at.replace(/\./g, '\\.')}\\r\\n(?:[^\\r\\n]+\\r\\n)*\\r\\n)?$`));
  assert.doesNotMatch(reached, /zz|hello/);

  // a valid request: what the origin receives is re-framed and stripped
  const before = recording.received().length;
  const answer = await raw(port('open'), [
    `POST http://${at}/clean HTTP/1.1`,
    `Host: other.test`,
    'Connection: close, X-Secret',
    'X-Secret: hop',
    'Keep-Alive: timeout=5',
    'TE: trailers',
    'Upgrade: websocket',
    'Proxy-Authorization: Basic Zm9vOmJhcg==',
    'Proxy-Connection: keep-alive',
    'Transfer-Encoding: chunked',
    '',
    '5\r\nhello\r\n0\r\n\r\n',
  ].join('\r\n'));
  assert.match(answer, /^HTTP\/1\.1 200 /);
  const seen = recording.received().slice(before);
  assert.match(seen, new RegExp(`^POST /clean HTTP/1\\.1\\r\\nHost: ${at.replace(/\./g, '\\.')}\\r\\n`), 'origin-form target, Host from the URI');
  assert.doesNotMatch(seen, /x-secret|keep-alive|^te:|upgrade|proxy-/im);
  assert.match(seen, /\r\nTransfer-Encoding: chunked\r\n/);
  assert.match(seen, /\r\nX-Forwarded-For: 127\.0\.0\.1\r\n/);
  assert.match(seen, /\r\n\r\n5\r\nhello\r\n0\r\n\r\n$/);
});

test('squid refuses the same malformed requests with 4xx (the reference)', async () => {
  const at = `127.0.0.1:${origin.port}`;
  for (const bytes of [`GET http:/${at}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, `GET / HTTP/1.1\r\nHost: ${at}\r\nConnection: close\r\n\r\n`, `CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`]) {
    assert.match(await raw(squid.open, bytes), /^HTTP\/1\.1 4\d\d /, JSON.stringify(bytes.slice(0, 40)));
  }
  // Content-Length with Transfer-Encoding: squid reframes by the chunked coding (RFC 9112 6.3 allows it);
  // Switchyard refuses the request (400), as its reverse proxy does: either way the origin never sees both
  const answer = await raw(squid.open, `POST http://${at}/ HTTP/1.1\r\nHost: ${at}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`);
  const seen = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
  assert.ok(seen.headers['transfer-encoding'] === undefined || seen.headers['content-length'] === undefined);
});

test('errors: 502 for a refused connect, 504 for a silent origin, each with its reason; metrics count them', async () => {
  const refused = await curl(['-x', `http://127.0.0.1:${port('open')}`, 'http://127.0.0.1:1/']);
  assert.equal(refused.status, 403, 'port 1 is outside 1024-65535');
  const closedPort = net.createServer();
  await new Promise<void>((resolve) => closedPort.listen(0, '127.0.0.1', resolve));
  const deadPort = (closedPort.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => closedPort.close(() => resolve()));
  const dead = await curl(['-x', `http://127.0.0.1:${port('open')}`, `http://127.0.0.1:${deadPort}/`]);
  assert.equal(dead.status, 502);
  assert.match(dead.body, /ECONNREFUSED/);
  const silent = await startSilentOrigin();
  cleanups.push(() => silent.close());
  const slow = await curl(['-x', `http://127.0.0.1:${port('open')}`, `http://127.0.0.1:${silent.port}/`]);
  assert.equal(slow.status, 504);
  await edge.waitForLine((entry) => entry.log === 'access' && entry.status === 502 && /ECONNREFUSED/.test(String(entry.reason)));
  await edge.waitForLine((entry) => entry.log === 'access' && entry.status === 504 && /upstream_response/.test(String(entry.reason)));
  const token = (await readFile(path.join(edge.dir, 'data', 'admin.token'), 'utf8')).trim();
  const metrics = await (await fetch(`http://127.0.0.1:${edge.ready.admin!.port}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  assert.match(metrics, /^switchyard_forward_denied_total\{listener="open",reason="host"\} [1-9]/m);
  assert.match(metrics, /^switchyard_forward_denied_total\{listener="auth",reason="auth"\} [1-9]/m);
  assert.match(metrics, /^switchyard_forward_denied_total\{listener="ssrf",reason="destination"\} [1-9]/m);
  assert.match(metrics, /^switchyard_forward_failed_total\{listener="open",reason="connect"\} [1-9]/m);
  assert.match(metrics, /^switchyard_forward_failed_total\{listener="open",reason="response_timeout"\} [1-9]/m);
  assert.match(metrics, /^switchyard_forward_tunnels_total\{listener="open"\} [1-9]/m);
  assert.match(metrics, /^switchyard_forward_requests_total\{listener="open"\} [1-9]/m);
  assert.match(metrics, /^switchyard_forward_bytes_total\{listener="open",direction="out"\} [1-9]/m);
});

test('switchyard check: a forward proxy without allow.clients is valid and warned about; a bad password file is refused as start would', async () => {
  const file = path.join(dir, 'check.yaml');
  await writeFile(file, 'listeners:\n  - name: egress\n    listen: 127.0.0.1:3128\n    protocol: forward_proxy\n');
  const ok = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(node24, [cliEntry, 'check', file], (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr })),
  );
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /listener egress: forward_proxy on 127\.0\.0\.1:3128, loopback clients only/);
  assert.match(ok.stderr, /warning: listener egress: forward_proxy without allow\.clients serves loopback clients only/);
  await writeFile(path.join(dir, 'bad.passwd'), 'alice:plaintext\n');
  await writeFile(file, `listeners:\n  - name: egress\n    listen: 127.0.0.1:3128\n    protocol: forward_proxy\n    allow: { clients: [127.0.0.1] }\n    proxy_auth: { file: bad.passwd }\n`);
  const bad = await new Promise<{ code: number; stderr: string }>((resolve) => execFile(node24, [cliEntry, 'check', file], (err, _stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code) : 0, stderr })));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /bad\.passwd:1: expected user:\$scrypt\$/);
});

test('with dns.resolver configured, destinations resolve through Switchyard\'s own DNS (its zones included)', async () => {
  const running = await retryOnAddressInUse(async () => {
    const dnsPort = await lastFreePort();
    return runSwitchyard(`
dns:
  listen: [udp://127.0.0.1:${dnsPort}, tcp://127.0.0.1:${dnsPort}]
  zones:
    - origin: example.test.
      soa: { mname: ns.example.test., rname: hostmaster.example.test. }
      records:
        - { name: api, type: A, value: 127.0.0.1 }
  resolver: { allow: [127.0.0.0/8], forward: [127.0.0.1:9] }
listeners:
  - name: egress
    listen: 127.0.0.1:0
    protocol: forward_proxy
    allow: { clients: [127.0.0.1], hosts: ["*.example.test"], ports: ["*"], destinations: [127.0.0.1/32] }
`);
  });
  cleanups.push(() => running.stop());
  const proxy = `http://127.0.0.1:${running.ready.listeners.egress.port}`;
  const result = await curl(['-x', proxy, `http://api.example.test:${origin.port}/by-name`]);
  assert.equal(result.status, 200, result.body);
  assert.equal(JSON.parse(result.body).headers.host, `api.example.test:${origin.port}`);
  const missing = await curl(['-x', proxy, `http://nope.example.test:${origin.port}/`]);
  assert.equal(missing.status, 502);
  assert.match(missing.body, /cannot resolve nope\.example\.test/);
});

test('framing: pipelined requests in order, an HTTP/1.0 client gets a chunked body decoded, Expect: 100-continue, --proxy-anyauth gets the 407 and asks again with credentials', async () => {
  const at = `127.0.0.1:${origin.port}`;
  const pipelined = await raw(port('open'), `GET http://${at}/one HTTP/1.1\r\nHost: ${at}\r\n\r\nGET http://${at}/two HTTP/1.1\r\nHost: ${at}\r\n\r\nGET http://${at}/three HTTP/1.1\r\nHost: ${at}\r\nConnection: close\r\n\r\n`);
  assert.deepEqual([...pipelined.matchAll(/"url":"([^"]+)"/g)].map((match) => match[1]), ['/one', '/two', '/three']);
  // the echo origin streams ?bytes= chunked: an HTTP/1.0 client gets the payload alone, then the close
  const old = await raw(port('open'), `GET http://${at}/?bytes=100000 HTTP/1.0\r\n\r\n`);
  const [head, body] = [old.slice(0, old.indexOf('\r\n\r\n')), old.slice(old.indexOf('\r\n\r\n') + 4)];
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.doesNotMatch(head, /transfer-encoding/i);
  assert.match(head, /\r\nConnection: close/);
  assert.equal(body, 'x'.repeat(100_000));
  // curl sends Expect: 100-continue for a body this large: the proxy answers 100 itself, the origin sees no Expect
  const big = await curl(['-x', `http://127.0.0.1:${port('open')}`, '--data-binary', `@${path.join(dir, 'cert.pem')}`, '-H', 'Expect: 100-continue', `http://${at}/expect`]);
  const echoed = JSON.parse(big.body);
  assert.equal(echoed.headers.expect, undefined);
  assert.equal(echoed.bodyLength, (await readFile(path.join(dir, 'cert.pem'))).length);
  // --proxy-anyauth: a first request without credentials, the 407, then the same request with them
  const anyauth = await curl(['-x', `http://127.0.0.1:${port('auth')}`, '--proxy-anyauth', '-U', 'alice:s3cret', `http://${at}/anyauth`]);
  assert.equal(anyauth.status, 200);
  assert.equal(JSON.parse(anyauth.body).url, '/anyauth');
});

test('reload: a changed allow policy applies to the next request on the same listening socket', async () => {
  const yaml = (hosts: string): string => `
listeners:
  - name: egress
    listen: 127.0.0.1:0
    protocol: forward_proxy
    allow: { clients: [127.0.0.1], hosts: [${hosts}], ports: ["*"], destinations: [127.0.0.1/32] }
`;
  const running = await runSwitchyard(yaml('127.0.0.1'));
  cleanups.push(() => running.stop());
  const proxy = `http://127.0.0.1:${running.ready.listeners.egress.port}`;
  assert.equal((await curl(['-x', proxy, `http://127.0.0.1:${origin.port}/before`])).status, 200);
  // the same listen address (port 0 stands for the port already bound): the listener keeps its socket
  await writeFile(running.configFile, yaml('only.example.test'));
  running.process.kill('SIGHUP');
  await running.waitForLine((line) => line.msg === 'reloaded');
  const after = await curl(['-x', proxy, `http://127.0.0.1:${origin.port}/after`]);
  assert.equal(after.status, 403);
  assert.match(after.body, /destination host not allowed: 127\.0\.0\.1/);
});

test('a client that closes its side (FIN) while its answer is awaited has left: the origin request is dropped, 499 client_closed', async () => {
  let arrived!: () => void;
  const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
  let originClosed!: () => void;
  const closed = new Promise<void>((resolve) => (originClosed = resolve));
  const waiting = net.createServer((socket) => {
    socket.on('data', (chunk) => chunk.toString('latin1').includes('\r\n\r\n') && arrived());
    socket.on('error', () => undefined);
    socket.on('close', () => originClosed());
  });
  await new Promise<void>((resolve) => waiting.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => waiting.close(resolve)));
  const originPort = (waiting.address() as net.AddressInfo).port;
  const client = net.connect(port('open'), '127.0.0.1');
  client.on('error', () => undefined);
  client.write(`GET http://127.0.0.1:${originPort}/left HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n\r\n`);
  await requestArrived;
  client.end();
  await closed;
  const line = await edge.waitForLine((entry) => entry.log === 'access' && entry.path === '/left');
  assert.equal(line.status, 499);
  assert.equal(line.reason, 'client_closed');
});
