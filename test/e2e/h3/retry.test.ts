// `http3.retry: under_load`: address validation only while handshakes pile up. A real `switchyard start`
// with `retry_above: 1`; Debian's gtlsclient as the client. Alone, its handshake is answered at once (no
// Retry). Then a handshake is left pending on purpose — a real client Initial (captured from gtlsclient
// sent to a UDP socket of the test's) replayed from a socket that never answers the server — and the same
// client's next connection is made to validate its address first: its log shows the Retry.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const addon = path.resolve(import.meta.dirname, '..', '..', '..', 'src', 'h3', 'native', 'build', 'Release', 'switchyard_h3.node');

/** One gtlsclient GET over HTTP/3; its log (stdout and stderr) and exit code. */
function gtlsclient(port: number, dir: string, timeout = '10s'): Promise<{ code: number; log: string }> {
  const args = ['--exit-on-all-streams-close', '--no-quic-dump', '--no-http-dump', `--download=${dir}`, `--timeout=${timeout}`, '127.0.0.1', String(port), `https://localhost:${port}/api/x`];
  return new Promise((resolve) =>
    execFile('gtlsclient', args, { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, log: stdout + stderr })),
  );
}

describe('http3 retry: under_load', { timeout: 60_000 }, () => {
  let origin: EchoOrigin;
  let edge: RunningSwitchyard;
  let dir: string;
  let port: number;

  before(async () => {
    assert.ok(existsSync(addon), `${addon} is not built: npm test builds it (scripts/ensure-test-tools.ts)`);
    dir = await mkdtemp(path.join(tmpdir(), 'sy-h3-retry-'));
    origin = await startEchoOrigin({ name: 'o1' });
    edge = await runSwitchyard(`
workers: 1
pools:
  web: { backends: [ { address: "${origin.address}" } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true }
    http3: { retry: under_load, retry_above: 1 }
    routes:
      - { match: { path_prefix: /api }, pool: web }
`);
    port = edge.ready.listeners.web.port;
  });

  after(async () => {
    await edge?.stop();
    await origin?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers a lone handshake without a Retry', async () => {
    const result = await gtlsclient(port, dir);
    assert.equal(result.code, 0, result.log.slice(-2000));
    assert.doesNotMatch(result.log, /Retry/, 'a Retry with no handshake in progress');
  });

  it('makes a new client validate its address while another handshake is in progress', async () => {
    // a real Initial: gtlsclient's first datagram, sent to a socket of ours that never answers
    const catcher = dgram.createSocket('udp4');
    catcher.bind(0, '127.0.0.1');
    await once(catcher, 'listening');
    const initial = once(catcher, 'message') as Promise<[Buffer, dgram.RemoteInfo]>;
    const abandoned = gtlsclient(catcher.address().port, dir, '2s');
    const [datagram] = await initial;
    catcher.close();
    await abandoned;
    assert.ok(datagram.length >= 1200 && (datagram[0] & 0xf0) === 0xc0, 'a QUIC long-header Initial (RFC 9000 §17.2.2)');

    // replayed from a socket that reads nothing back: the server keeps that handshake in progress
    const silent = dgram.createSocket('udp4');
    silent.bind(0, '127.0.0.1');
    await once(silent, 'listening');
    const answered = once(silent, 'message'); // the server's Initial + Handshake: proof it took the connection
    silent.send(datagram, port, '127.0.0.1');
    await answered;
    try {
      const result = await gtlsclient(port, dir);
      assert.equal(result.code, 0, result.log.slice(-2000));
      assert.match(result.log, /Retry/, 'no Retry while a handshake was in progress');
    } finally {
      silent.close();
    }
  });
});
