// TLS termination with real clients (openssl s_client, curl): SNI, ALPN, versions, cipher policy,
// non-TLS input, session resumption, certificate reload, and the self-signed development CA.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, rename, writeFile, readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { hstsHeaderValue } from '../../../src/tls/index.ts';
import { listenerFrom, makeCert, run, sClient, startTlsServer, tempDir, type TlsFixture } from './support.ts';

const subjectCn = (out: string) => /subject=.*CN\s*=\s*([^\s,\n]+)/.exec(out)?.[1];

describe('tls listener', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  let fixture: TlsFixture;
  let caPath: string;

  before(async () => {
    dir = await tempDir('sy-tls-');
    const a = await makeCert(dir.dir, 'a', ['a.example.test']);
    await makeCert(dir.dir, 'wild', ['*.wild.test']);
    await makeCert(dir.dir, 'fallback', ['fallback.test']);
    caPath = a.caCert;
    const listener = listenerFrom(
      `
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls:
      session_cache: true
      certificates:
        - { hosts: [a.example.test], cert: tls/a.pem, key: tls/a.key }
        - { cert: tls/wild.pem, key: tls/wild.key }
        - { cert: tls/fallback.pem, key: tls/fallback.key, default: true }
    routes:
      - { match: { path_prefix: / }, respond: { body: ok } }
`,
      dir.dir,
    );
    fixture = await startTlsServer(listener, dir.dir, dir.dir);
  });

  after(async () => {
    await fixture?.close();
    await dir?.remove();
  });

  it('picks the certificate by SNI: exact, wildcard from the SAN, default otherwise', async () => {
    const exact = await sClient(fixture.port, ['-servername', 'a.example.test', '-CAfile', caPath, '-verify_return_error']);
    assert.equal(subjectCn(exact.out), 'a.example.test', exact.out);
    assert.match(exact.out, /Verify return code: 0 \(ok\)/);
    const wild = await sClient(fixture.port, ['-servername', 'x.wild.test']);
    assert.equal(subjectCn(wild.out), 'localhost', 'the *.wild.test leaf (its CN is the fallback name)');
    const deep = await sClient(fixture.port, ['-servername', 'a.b.wild.test']);
    assert.equal(subjectCn(deep.out), 'fallback.test', 'a wildcard covers one label only');
    const none = await sClient(fixture.port, ['-noservername']);
    assert.equal(subjectCn(none.out), 'fallback.test');
  });

  it('offers ALPN h2 and http/1.1', async () => {
    const h2 = await sClient(fixture.port, ['-servername', 'a.example.test', '-alpn', 'h2,http/1.1']);
    assert.match(h2.out, /ALPN protocol: h2/);
    const h1 = await sClient(fixture.port, ['-servername', 'a.example.test', '-alpn', 'http/1.1']);
    assert.match(h1.out, /ALPN protocol: http\/1\.1/);
  });

  it('speaks TLS 1.3 and 1.2 with AEAD suites', async () => {
    const v13 = await sClient(fixture.port, ['-tls1_3']);
    assert.match(v13.out, /TLSv1\.3/);
    const v12 = await sClient(fixture.port, ['-tls1_2']);
    assert.match(v12.out, /Cipher is ECDHE-ECDSA-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)/, v12.out);
  });

  it('refuses TLS 1.0 and 1.1 clients', async () => {
    for (const version of ['-tls1_1', '-tls1']) {
      // SECLEVEL=0 so that the client really offers the old version and the refusal is the server's
      const result = await sClient(fixture.port, [version, '-cipher', 'DEFAULT@SECLEVEL=0']);
      assert.notEqual(result.code, 0, result.out);
      assert.match(result.out, /alert protocol version|unsupported protocol|wrong version/i, result.out);
      assert.doesNotMatch(result.out, /Cipher is (?!\(NONE\))/);
    }
  });

  it('refuses clients offering only weak cipher suites', async () => {
    for (const cipher of ['ECDHE-ECDSA-AES128-SHA', 'AES128-SHA256', 'ECDHE-RSA-AES256-SHA']) {
      const result = await sClient(fixture.port, ['-tls1_2', '-cipher', `${cipher}@SECLEVEL=0`]);
      assert.notEqual(result.code, 0, result.out);
      assert.match(result.out, /handshake failure|no shared cipher|no ciphers available/i, result.out);
    }
  });

  it('closes a non-TLS byte stream without harm and keeps serving', async () => {
    const closed = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(fixture.port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      let reply = '';
      socket.on('data', (chunk) => (reply += chunk.toString('latin1')));
      socket.on('error', () => resolve(reply));
      socket.on('close', () => resolve(reply));
      socket.setTimeout(5000, () => reject(new Error('not closed')));
    });
    assert.doesNotMatch(closed, /HTTP\/1\.1 200/);
    const after = await sClient(fixture.port, ['-servername', 'a.example.test']);
    assert.match(after.out, /a\.example\.test/);
  });

  it('resumes sessions: TLS 1.2 by session id or ticket, TLS 1.3 by ticket', async () => {
    const v12 = await sClient(fixture.port, ['-tls1_2', '-reconnect', '-servername', 'a.example.test']);
    assert.match(v12.out, /Reused, TLSv1\.2/, v12.out);
    const v12ids = await sClient(fixture.port, ['-tls1_2', '-no_ticket', '-reconnect', '-servername', 'a.example.test']);
    assert.match(v12ids.out, /Reused, TLSv1\.2/, 'session id cache');
    const session = path.join(dir.dir, 'sess.pem');
    // -ign_eof: wait for the server's close, so the ticket sent after the handshake is read and saved
    const first = await sClient(fixture.port, ['-tls1_3', '-ign_eof', '-servername', 'a.example.test', '-sess_out', session]);
    assert.match(first.out, /TLSv1\.3/);
    const second = await sClient(fixture.port, ['-tls1_3', '-ign_eof', '-servername', 'a.example.test', '-sess_in', session]);
    assert.match(second.out, /Reused, TLSv1\.3/, second.out);
  });

  it('computes the HSTS header value once from config', () => {
    assert.equal(hstsHeaderValue({ hsts: false }), undefined);
    assert.equal(hstsHeaderValue({ hsts: true }), 'max-age=31536000');
    assert.equal(hstsHeaderValue({ hsts: { max_age: 600_000, include_subdomains: true, preload: true } }), 'max-age=600; includeSubDomains; preload');
  });
});

describe('tls certificate reload', () => {
  it('swaps in a changed certificate, keeps open connections, and keeps the old one when the new file is broken', async (t) => {
    const dir = await tempDir('sy-tls-reload-');
    t.after(() => dir.remove());
    const one = await makeCert(dir.dir, 'one', ['reload.test', 'one.test']);
    const two = await makeCert(dir.dir, 'two', ['reload.test', 'two.test']);
    await copyFile(one.cert, path.join(dir.dir, 'live.pem'));
    await copyFile(one.key, path.join(dir.dir, 'live.key'));
    const listener = listenerFrom(
      `
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls: { certificates: [ { cert: live.pem, key: live.key } ] }
    routes: [ { match: { path_prefix: / }, respond: { body: ok } } ]
`,
      dir.dir,
    );
    const fixture = await startTlsServer(listener, dir.dir, dir.dir);
    t.after(() => fixture.close());
    const fingerprintOf = async (file: string) => new X509Certificate(await readFile(file)).fingerprint256;
    const served = async () => {
      const socket = tls.connect({ port: fixture.port, host: '127.0.0.1', servername: 'reload.test', rejectUnauthorized: false });
      await new Promise((resolve) => socket.once('secureConnect', resolve));
      const fingerprint = socket.getPeerX509Certificate()!.fingerprint256;
      socket.destroy();
      return fingerprint;
    };
    assert.equal(await served(), await fingerprintOf(one.cert));

    const open = tls.connect({ port: fixture.port, host: '127.0.0.1', servername: 'reload.test', rejectUnauthorized: false });
    await new Promise((resolve) => open.once('secureConnect', resolve));
    t.after(() => open.destroy());

    const reloaded = () => new Promise<{ ok: boolean; error?: string }>((resolve) => fixture.terminator.onReload(resolve));
    let next = reloaded();
    // the way renewal tools do it: write beside, then rename over (key first)
    await copyFile(two.key, path.join(dir.dir, 'live.key.new'));
    await copyFile(two.cert, path.join(dir.dir, 'live.pem.new'));
    await rename(path.join(dir.dir, 'live.key.new'), path.join(dir.dir, 'live.key'));
    await rename(path.join(dir.dir, 'live.pem.new'), path.join(dir.dir, 'live.pem'));
    let result = await next;
    assert.equal(result.ok, true, result.error);
    assert.equal(await served(), await fingerprintOf(two.cert));
    assert.equal(open.destroyed, false, 'a connection opened before the reload stays open');

    next = reloaded();
    await writeFile(path.join(dir.dir, 'live.pem'), '-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n');
    result = await next;
    assert.equal(result.ok, false);
    assert.match(result.error!, /live\.pem/);
    assert.equal(await served(), await fingerprintOf(two.cert), 'a broken file keeps the previous certificate');
    assert.equal(fixture.terminator.status().last_reload?.ok, false);
  });
});

describe('tls self_signed', () => {
  it('generates a CA and a leaf for the route hosts once, reuses them, and curl trusts it with --cacert', async (t) => {
    const dir = await tempDir('sy-tls-self-');
    t.after(() => dir.remove());
    const yaml = `
listeners:
  - name: dev
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true, hsts: true }
    routes:
      - { match: { host: [app.dev.test, "*.api.dev.test"] }, respond: { body: ok } }
      - { match: { path_prefix: / }, respond: { body: ok } }
`;
    const dataDir = path.join(dir.dir, 'data');
    const first = await startTlsServer(listenerFrom(yaml, dir.dir), dataDir, dir.dir);
    const caPath = first.terminator.caPath!;
    assert.equal(caPath, path.join(dataDir, 'tls', 'ca', 'ca.pem'));
    assert.equal(first.terminator.hsts, 'max-age=31536000');
    const status = first.terminator.status();
    assert.deepEqual([...status.certificates[0].hosts].sort(), ['*.api.dev.test', '127.0.0.1', '::1', 'app.dev.test', 'localhost']);
    for (const host of ['app.dev.test', 'v1.api.dev.test', 'localhost']) {
      const result = await run('curl', ['-sS', '--http1.1', '--cacert', caPath, '--resolve', `${host}:${first.port}:127.0.0.1`, `https://${host}:${first.port}/`]);
      assert.equal(result.code, 0, result.out);
      assert.match(result.out, new RegExp(`^${host.replace(/\./g, '\\.')}\\|http/1\\.1`));
    }
    // session_cache off (the default): TLS 1.2 still resumes with a ticket, not by session id
    const ticket = await run('openssl', ['s_client', '-connect', `127.0.0.1:${first.port}`, '-tls1_2', '-reconnect'], '');
    assert.match(ticket.out, /Reused, TLSv1\.2/);
    const byId = await run('openssl', ['s_client', '-connect', `127.0.0.1:${first.port}`, '-tls1_2', '-no_ticket', '-reconnect'], '');
    assert.doesNotMatch(byId.out, /Reused, TLSv1\.2/);
    const fingerprint = status.certificates[0].fingerprint256;
    await first.close();

    const second = await startTlsServer(listenerFrom(yaml, dir.dir), dataDir, dir.dir);
    t.after(() => second.close());
    assert.equal(second.terminator.status().certificates[0].fingerprint256, fingerprint, 'reused on restart');
  });
});

describe('tls min_version and alpn from config', () => {
  it('min_version TLSv1.3 refuses TLS 1.2; alpn [http/1.1] never negotiates h2', async (t) => {
    const dir = await tempDir('sy-tls-opts-');
    t.after(() => dir.remove());
    await makeCert(dir.dir, 'opts', ['opts.test']);
    const listener = listenerFrom(
      `
listeners:
  - name: strict
    listen: 127.0.0.1:0
    protocol: https
    tls: { min_version: TLSv1.3, alpn: [http/1.1], certificates: [ { cert: tls/opts.pem, key: tls/opts.key } ] }
    routes: [ { match: { path_prefix: / }, respond: { body: ok } } ]
`,
      dir.dir,
    );
    const fixture = await startTlsServer(listener, dir.dir, dir.dir);
    t.after(() => fixture.close());
    const v12 = await sClient(fixture.port, ['-tls1_2']);
    assert.notEqual(v12.code, 0);
    assert.match(v12.out, /alert protocol version|unsupported protocol|wrong version/i);
    const v13 = await sClient(fixture.port, ['-tls1_3', '-alpn', 'h2,http/1.1']);
    assert.match(v13.out, /ALPN protocol: http\/1\.1/);
    assert.doesNotMatch(v13.out, /ALPN protocol: h2/);
  });
});
