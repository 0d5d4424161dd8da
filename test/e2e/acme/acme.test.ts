// tls.acme end to end: a real `switchyard start` gets certificates from Debian's pebble (the ACME test CA)
// on loopback — a wildcard one through dns-01, answered by the edge's own zone, a plain one through
// http-01, answered by the edge's own http listener, and one through tls-alpn-01, answered by the https
// listener itself — serves them (curl and openssl verify against pebble's
// issuing root), renews them at two thirds of their (short) lifetime without dropping an open connection,
// keeps them across a restart, and retries a name the CA cannot validate with backoff, serving the
// temporary certificate meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { startPebble, type RunningPebble } from '../../support/pebble.ts';
import { lastFreePort, retryOnAddressInUse } from '../../support/ports.ts';
import { cleanupStack } from '../../support/cleanup.ts';

const defer = cleanupStack();
/** Short enough that renewal (at two thirds) comes within the test, long enough for an order to finish. */
const validitySeconds = 30;

function configYaml(pebble: RunningPebble, dataDir: string, httpPort: number, dnsPort: number, alpnPort: number, shopHosts = ['www.shop.test']): string {
  const acme = (hosts: string[], challenges: string[]) =>
    `{ directory: "${pebble.directory}", ca: "${pebble.caFile}", contact: ops@example.test, hosts: ${JSON.stringify(hosts)}, challenges: ${JSON.stringify(challenges)} }`;
  return `
data_dir: ${dataDir}
workers: 2
log: { level: info, access_log: off }
admin: { listen: 127.0.0.1:0, token_file: admin.token }
listeners:
  - name: plain
    listen: 127.0.0.1:${httpPort}
    protocol: http
    routes: [ { respond: { body: "plain\\n" } } ]
  - name: wild
    listen: 127.0.0.1:0
    protocol: https
    tls: { acme: ${acme(['example.test', '*.example.test'], ['dns-01'])} }
    routes: [ { respond: { body: "wild\\n" } } ]
  - name: shop
    listen: 127.0.0.1:0
    protocol: https
    tls: { acme: ${acme(shopHosts, ['http-01', 'dns-01'])} }
    routes: [ { respond: { body: "shop\\n" } } ]
  - name: alpn
    listen: 127.0.0.1:${alpnPort}
    protocol: https
    tls: { acme: ${acme(['alpn.shop.test'], ['tls-alpn-01'])} }
    routes: [ { respond: { body: "alpn\\n" } } ]
  - name: down
    listen: 127.0.0.1:0
    protocol: https
    tls: { acme: ${acme(['down.shop.test'], ['http-01'])} }
    routes: [ { respond: { body: "down\\n" } } ]
dns:
  listen: [udp://127.0.0.1:${dnsPort}, tcp://127.0.0.1:${dnsPort}]
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records:
        - { name: "@", type: A, value: 127.0.0.1 }
        - { name: "*", type: A, value: 127.0.0.1 }
    - origin: shop.test.
      soa: { mname: ns1.shop.test., rname: hostmaster.shop.test. }
      records:
        - { name: www, type: A, value: 127.0.0.1 }
        - { name: "@", type: A, value: 127.0.0.1 }
        - { name: alpn, type: A, value: 127.0.0.1 }
        - { name: down, type: A, value: 127.0.0.2 }   # nothing listens there: http-01 fails
`;
}

function run(program: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(program, args, { timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

/** GET https://host:port/ with curl, verifying the chain against `rootFile`. */
async function curlVerified(host: string, port: number, rootFile: string) {
  return run('curl', ['-sS', '--max-time', '10', '--cacert', rootFile, '--resolve', `${host}:${port}:127.0.0.1`, `https://${host}:${port}/`]);
}

/** The n-th line (1-based) that satisfies the predicate, waiting for it. */
async function nthLine(edge: RunningSwitchyard, n: number, predicate: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<void> {
  await edge.waitForLine(() => edge.lines.filter(predicate).length >= n, timeoutMs);
}

const issued = (listener: string) => (line: Record<string, unknown>) => line.listener === listener && typeof line.msg === 'string' && line.msg.includes('certificate issued');
/** Every worker logs its reload; both must have swapped before a new connection is sure to see the new certificate. */
const reloaded = (listener: string) => (line: Record<string, unknown>) => line.msg === `tls ${listener}: certificates reloaded`;

interface Peer {
  serial: string;
  socket: tls.TLSSocket;
}

/** A TLS connection verified against pebble's root, for `servername`. */
function connectVerified(port: number, servername: string, root: string): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca: root, ALPNProtocols: ['http/1.1'] }, () => resolve({ serial: socket.getPeerCertificate().serialNumber, socket }));
    socket.once('error', reject);
  });
}

/** One HTTP/1.1 request on an open connection (keep-alive); resolves with the response text. */
function requestOn(socket: tls.TLSSocket, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text);
      if (end >= 0 && length && text.length >= end + 4 + Number(length[1])) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET / HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
  });
}

test('tls.acme: wildcard by dns-01, names by http-01 and tls-alpn-01 from pebble, served, renewed with connections kept, reissued on reload, kept across a restart', { timeout: 110_000 }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-acme-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  let pebble!: RunningPebble;
  let httpPort = 0;
  let dnsPort = 0;
  let alpnPort = 0;
  const edge = await retryOnAddressInUse(async () => {
    httpPort = await lastFreePort();
    dnsPort = await lastFreePort();
    alpnPort = await lastFreePort();
    pebble = await startPebble({ dir, dnsPort, httpPort, tlsPort: alpnPort, validitySeconds });
    try {
      return await runSwitchyard(configYaml(pebble, dataDir, httpPort, dnsPort, alpnPort), { timeoutMs: 30_000 });
    } catch (err) {
      await pebble.stop();
      throw err;
    }
  }, 3);
  defer(() => pebble.stop());
  defer(() => edge.stop());

  // until the CA has issued, each listener serves a temporary self-signed certificate, and says so
  for (const listener of ['wild', 'shop', 'alpn']) {
    await edge.waitForLine((line) => line.listener === listener && String(line.msg).includes('serving a temporary self-signed certificate'), 5_000);
  }

  await nthLine(edge, 1, issued('wild'), 60_000);
  await nthLine(edge, 1, issued('shop'), 60_000);
  await nthLine(edge, 2, reloaded('wild'), 10_000);
  await nthLine(edge, 2, reloaded('shop'), 10_000);
  await nthLine(edge, 1, issued('alpn'), 60_000);
  await nthLine(edge, 2, reloaded('alpn'), 10_000);
  // a name the CA cannot validate: the order fails, is retried after 5 s, then 10 s, and the listener keeps
  // serving the temporary certificate meanwhile
  const failed = (line: Record<string, unknown>) => line.listener === 'down' && String(line.msg).startsWith('acme down: order failed');
  await nthLine(edge, 2, failed, 30_000);
  const failures = edge.lines.filter(failed).slice(0, 2);
  assert.deepEqual(failures.map((line) => line.retry_in_ms), [5_000, 10_000]);
  assert.match(String(failures[0].error), /down\.shop\.test http-01: authorization invalid/);
  const temporary = await new Promise<tls.PeerCertificate>((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: edge.ready.listeners.down.port, servername: 'down.shop.test', rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.once('error', reject);
  });
  assert.match(String(temporary.subject.CN), /Switchyard temporary certificate/);
  assert.match(String(temporary.subjectaltname), /DNS:down\.shop\.test/);

  // the admin API tells each listener's state
  const token = (await readFile(path.join(dataDir, 'admin.token'), 'utf8')).trim();
  const status = (await (await fetch(`http://127.0.0.1:${edge.ready.admin!.port}/api/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { acme: { listener: string; state: string; failures: number; last_error?: string; not_after?: string }[] };
  const byListener = Object.fromEntries(status.acme.map((entry) => [entry.listener, entry]));
  assert.equal(byListener.wild.state, 'issued');
  assert.ok(byListener.wild.not_after);
  assert.equal(byListener.down.state, 'temporary');
  assert.ok(byListener.down.failures >= 2);
  assert.match(String(byListener.down.last_error), /authorization invalid/);

  const rootPem = await pebble.issuingRoot();
  assert.match(rootPem, /BEGIN CERTIFICATE/);
  const rootFile = path.join(dir, 'pebble-root.pem');
  await writeFile(rootFile, rootPem);

  const wildPort = edge.ready.listeners.wild.port;
  const shopPort = edge.ready.listeners.shop.port;
  // the wildcard covers any one label under example.test, and the certificate names the apex too
  for (const host of ['a.example.test', 'example.test', 'deep.example.test']) {
    const result = await curlVerified(host, wildPort, rootFile);
    assert.equal(result.code, 0, `curl ${host}: ${result.stderr}`);
    assert.equal(result.stdout, 'wild\n');
  }
  const shop = await curlVerified('www.shop.test', shopPort, rootFile);
  assert.equal(shop.code, 0, `curl www.shop.test: ${shop.stderr}`);
  assert.equal(shop.stdout, 'shop\n');
  const alpn = await curlVerified('alpn.shop.test', alpnPort, rootFile);
  assert.equal(alpn.code, 0, `curl alpn.shop.test: ${alpn.stderr}`);
  assert.equal(alpn.stdout, 'alpn\n');
  // openssl agrees: the chain verifies to pebble's root and the wildcard name is on the leaf
  const sClient = await run('sh', ['-c', `openssl s_client -connect 127.0.0.1:${wildPort} -servername b.example.test -CAfile ${rootFile} -verify_return_error </dev/null 2>&1 | openssl x509 -noout -ext subjectAltName 2>&1; openssl s_client -connect 127.0.0.1:${wildPort} -servername b.example.test -CAfile ${rootFile} -verify_return_error </dev/null 2>&1 | grep -E "Verify return code"`]);
  assert.match(sClient.stdout, /DNS:\*\.example\.test/);
  assert.match(sClient.stdout, /Verify return code: 0 \(ok\)/);

  // the challenges were answered by the edge itself: http-01 through the http listener's access path,
  // dns-01 TXT records gone from the zone once the order is done
  const txt = await run('dig', ['+short', '-p', String(dnsPort), '@127.0.0.1', 'TXT', '_acme-challenge.example.test']);
  assert.equal(txt.stdout.trim(), '');

  // renewal at two thirds of the lifetime: an open connection keeps working across the swap, a new one gets the new certificate
  const before = await connectVerified(wildPort, 'keep.example.test', rootPem);
  defer(async () => before.socket.destroy());
  assert.match(await requestOn(before.socket, 'keep.example.test'), /^HTTP\/1\.1 200[\s\S]*wild\n$/);
  await nthLine(edge, 2, issued('wild'), validitySeconds * 1000);
  await nthLine(edge, 4, reloaded('wild'), 10_000);
  assert.match(await requestOn(before.socket, 'keep.example.test'), /^HTTP\/1\.1 200[\s\S]*wild\n$/, 'the connection opened before the renewal still serves');
  const after = await connectVerified(wildPort, 'new.example.test', rootPem);
  after.socket.destroy();
  assert.notEqual(after.serial, before.serial, 'a new connection gets the renewed certificate');
  before.socket.destroy();

  // a reload that adds a name: the listener serves a temporary certificate for the new set, orders it, swaps it in
  await writeFile(edge.configFile, configYaml(pebble, dataDir, httpPort, dnsPort, alpnPort, ['www.shop.test', 'shop.test']));
  edge.process.kill('SIGHUP');
  await edge.waitForLine((line) => line.msg === 'reloaded', 15_000);
  const reissued = (line: Record<string, unknown>) => issued('shop')(line) && Array.isArray(line.hosts) && line.hosts.includes('shop.test');
  await nthLine(edge, 1, reissued, 30_000);
  // both workers have swapped it in
  await edge.waitForLine(() => edge.lines.slice(edge.lines.findIndex(reissued)).filter(reloaded('shop')).length >= 2, 10_000);
  for (const host of ['shop.test', 'www.shop.test']) {
    const result = await curlVerified(host, shopPort, rootFile);
    assert.equal(result.code, 0, `curl ${host} after the reload: ${result.stderr}`);
  }

  if (process.env.ACME_TEST_DEBUG) for (const line of edge.lines) if (/acme|tls/.test(String(line.msg))) console.log(JSON.stringify(line));
  // a restart keeps the stored certificates: the CA's chain is served from the first connection on (no
  // temporary certificate, whether or not the short-lived one is already due for renewal)
  await edge.stop();
  const again = await runSwitchyard(configYaml(pebble, dataDir, httpPort, dnsPort, alpnPort), { timeoutMs: 30_000 });
  defer(() => again.stop());
  const restarted = await connectVerified(again.ready.listeners.wild.port, 'x.example.test', rootPem);
  restarted.socket.destroy();
  assert.equal(again.lines.filter((line) => String(line.msg).includes('serving a temporary self-signed certificate')).length, 0);
});
