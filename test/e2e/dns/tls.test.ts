// DNS over TLS (RFC 7858) in the real `switchyard start`: kdig +tls and `switchyard dig --tls` verify the
// certificate against a CA made for the test; TLS 1.1 is refused; ALPN "dot"; `switchyard check` lists the
// tls:// address; a reload (SIGHUP) with new zone data keeps DoT serving, on the open connection too.
// In process: the TCP limits hold from the accept (a silent handshake is closed after io_timeout, and
// counts against max_connections_per_client), a handshaken connection idles by idle_timeout; self_signed
// certificates come from data_dir; new tls settings on reload apply to new connections only.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { queryBytes } from '../../support/dns-queries.ts';
import { parseConfigText } from '../../../src/config/index.ts';
import { decodeMessage } from '../../../src/dns/resolver/message.ts';
import { Rcode } from '../../../src/dns/wire/constants.ts';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { switchyard } from '../diag/cli.ts';
import { makeTlsFixtures, type TlsFixtures } from '../diag/tls-fixtures.ts';
import { parseDig, startDns } from './support.ts';

const run = promisify(execFile);

function config(fixtures: TlsFixtures, address: string): string {
  return `
dns:
  listen: [udp://127.0.0.1:0, tls://127.0.0.1:0]
  tls:
    certificates: [ { cert: ${path.join(fixtures.dir, 'server.crt')}, key: ${path.join(fixtures.dir, 'server.key')} } ]
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records:
        - { name: www, type: A, value: ${address} }
`;
}

/** One framed query on an open TLS socket; resolves with the decoded answer. */
function ask(socket: tls.TLSSocket, name: string, id: number): Promise<ReturnType<typeof decodeMessage>> {
  const query = queryBytes(name, 1, { id });
  const frame = Buffer.alloc(2 + query.length);
  frame.writeUInt16BE(query.length, 0);
  query.copy(frame, 2);
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2 || received.length < 2 + received.readUInt16BE(0)) return;
      socket.off('data', onData);
      resolve(decodeMessage(received.subarray(2, 2 + received.readUInt16BE(0))));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(frame);
  });
}

function connect(port: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('dns over tls through switchyard start', () => {
  let fixtures: TlsFixtures;
  let ca: Buffer;
  let running: RunningSwitchyard;
  let port: number;
  before(async () => {
    fixtures = await makeTlsFixtures();
    ca = await readFile(fixtures.caFile);
    running = await runSwitchyard(config(fixtures, '192.0.2.1'));
    const dot = running.ready.dns?.find((address) => address.transport === 'tls');
    assert.ok(dot, `a tls address in the ready line: ${JSON.stringify(running.ready)}`);
    port = dot.port;
  });
  after(async () => {
    await running?.stop();
    if (fixtures) await rm(fixtures.dir, { recursive: true, force: true });
  });

  it('answers kdig +tls, verifying the certificate against the test CA', async () => {
    const { stdout } = await run('kdig', ['@127.0.0.1', '-p', String(port), '+tls', `+tls-ca=${fixtures.caFile}`, '+tls-hostname=localhost', '+retry=0', '+time=5', 'www.example.test', 'A'], { timeout: 15_000 });
    const result = parseDig(stdout);
    assert.equal(result.status, 'NOERROR', stdout);
    assert.deepEqual(result.answer.map((record) => record[4]), ['192.0.2.1']);
    assert.match(stdout, /TLS/);
    // a name the certificate is not for fails verification
    await assert.rejects(run('kdig', ['@127.0.0.1', '-p', String(port), '+tls', `+tls-ca=${fixtures.caFile}`, '+tls-hostname=other.test', '+retry=0', '+time=5', 'www.example.test'], { timeout: 15_000 }));
  });

  it('answers switchyard dig --tls (and refuses an unverified certificate)', async () => {
    const ok = await switchyard(['dig', '--tls', '--tls-ca', fixtures.caFile, '--tls-name', 'localhost', `@127.0.0.1:${port}`, 'www.example.test', 'A']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /status: NOERROR/);
    assert.match(ok.stdout, /www\.example\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.1/);
    assert.match(ok.stdout, /\(TLS\)/);
    // the certificate has IP:127.0.0.1, so the address alone verifies too
    const byAddress = await switchyard(['dig', '--tls', '--tls-ca', fixtures.caFile, '-p', String(port), '@127.0.0.1', 'www.example.test', '--json']);
    assert.equal(byAddress.code, 0, byAddress.stderr);
    assert.equal(JSON.parse(byAddress.stdout).transport, 'TLS');
    const untrusted = await switchyard(['dig', '--tls', `@127.0.0.1:${port}`, 'www.example.test']);
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /certificate/i);
  });

  it('speaks TLS 1.2 and 1.3 with ALPN dot, and refuses TLS 1.1', async () => {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const socket = await connect(port, { ca: [ca], minVersion: version, maxVersion: version, ALPNProtocols: ['dot'] });
      assert.equal(socket.getProtocol(), version);
      assert.equal(socket.alpnProtocol, 'dot');
      const answer = await ask(socket, 'www.example.test.', 7);
      assert.equal(answer?.id, 7);
      socket.destroy();
    }
    // SECLEVEL=0 lets the client offer TLS 1.1 at all (OpenSSL 3 disables it by default): the server must refuse it
    await assert.rejects(connect(port, { ca: [ca], minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), /alert protocol version/);
  });

  it('is listed by switchyard check', async () => {
    const file = path.join(running.dir, 'check.yaml');
    await writeFile(file, config(fixtures, '192.0.2.1').replace('tls://127.0.0.1:0', 'tls://127.0.0.1:8853'));
    const result = await switchyard(['check', '-c', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /dns: tls \(DNS over TLS, ALPN dot\) on tls:\/\/127\.0\.0\.1:8853 with 1 certificate\(s\), TLSv1\.2\+/);
    // without certificates a tls:// address is refused
    await writeFile(file, 'dns:\n  listen: [tls://127.0.0.1:8853]\n');
    const refused = await switchyard(['check', '-c', file]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /dns\.tls: expected tls settings/);
  });

  it('keeps serving DoT across a reload, on an open connection and new ones', async () => {
    const socket = await connect(port, { ca: [ca] });
    assert.equal((await ask(socket, 'www.example.test.', 1))?.answer[0].rdata.join('.'), '192.0.2.1');
    const before = running.lines.length;
    await writeFile(running.configFile, config(fixtures, '192.0.2.2'));
    running.process.kill('SIGHUP');
    await running.waitForLine((line) => line.msg === 'reloaded' && running.lines.indexOf(line) >= before, 10_000);
    assert.equal((await ask(socket, 'www.example.test.', 2))?.answer[0].rdata.join('.'), '192.0.2.2');
    socket.destroy();
    const fresh = await connect(port, { ca: [ca] });
    assert.equal((await ask(fresh, 'www.example.test.', 3))?.answer[0].rdata.join('.'), '192.0.2.2');
    fresh.destroy();
  });
});

describe('dns over tls limits (in process)', () => {
  let fixtures: TlsFixtures;
  let ca: Buffer;
  before(async () => {
    fixtures = await makeTlsFixtures();
    ca = await readFile(fixtures.caFile);
  });
  after(async () => {
    if (fixtures) await rm(fixtures.dir, { recursive: true, force: true });
  });

  it('holds the handshake to io_timeout and to the per-client cap; a handshaken connection idles by idle_timeout', async () => {
    const dns = await startDns(
      `${config(fixtures, '192.0.2.1').replace('udp://127.0.0.1:0, ', '')}  tcp: { io_timeout: 300ms, idle_timeout: 5s, max_connections_per_client: 2 }\n`,
    );
    try {
      const port = dns.port;
      const silent = await new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
        socket.once('error', reject);
      });
      const closed = new Promise<number>((resolve) => {
        const opened = performance.now();
        silent.on('error', () => {});
        silent.once('close', () => resolve(performance.now() - opened));
      });
      const handshaken = await connect(port, { ca: [ca] });
      // the cap of 2 is reached (one silent, one handshaken): a third connection is closed at once
      await assert.rejects(connect(port, { ca: [ca] }));
      assert.equal(dns.server.status().counters.tcp_refused, 1);
      const silentFor = await closed;
      assert.ok(silentFor >= 250 && silentFor < 1500, `a silent handshake closed after ${silentFor.toFixed(0)} ms`);
      // the handshaken connection outlived io_timeout: it is idle, not mid-message
      assert.equal((await ask(handshaken, 'www.example.test.', 5))?.answer[0].rdata.join('.'), '192.0.2.1');
      assert.ok(dns.server.status().counters.tcp_timeouts >= 1);
      handshaken.destroy();
    } finally {
      await dns.stop();
    }
  });

  it('serves a self-signed certificate from data_dir, and applies new tls settings on reload to new connections', async () => {
    const dns = await startDns('dns:\n  listen: [tls://127.0.0.1:0]\n  tls: { self_signed: true }\n  zones: [ { origin: example.test., soa: { mname: ns.example.test., rname: h.example.test. }, records: [ { name: www, type: A, value: 192.0.2.9 } ] } ]\n');
    try {
      const selfCa = await readFile(path.join(dns.dir, 'data', 'tls', 'ca', 'ca.pem'));
      const open = await connect(dns.port, { ca: [selfCa], maxVersion: 'TLSv1.2' });
      assert.equal((await ask(open, 'www.example.test.', 1))?.answer[0].rdata.join('.'), '192.0.2.9');
      const strict = parseConfigText('dns:\n  listen: [tls://127.0.0.1:0]\n  tls: { self_signed: true, min_version: TLSv1.3 }\n', path.join(dns.dir, 'switchyard.yaml'), dns.dir).config;
      await dns.server.reload(strict.dns!);
      await assert.rejects(connect(dns.port, { ca: [selfCa], maxVersion: 'TLSv1.2' }), /protocol version/);
      const fresh = await connect(dns.port, { ca: [selfCa] });
      assert.equal(fresh.getProtocol(), 'TLSv1.3');
      fresh.destroy();
      // the connection made before the reload keeps its TLS 1.2 session
      assert.equal((await ask(open, 'www.example.test.', 2))?.rcode, Rcode.REFUSED, 'the zone went with the reload; the connection still answers');
      open.destroy();
    } finally {
      await dns.stop();
    }
  });
});
