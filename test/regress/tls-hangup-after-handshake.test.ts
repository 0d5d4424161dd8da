// Regression: a TLS 1.3 client that sends its Finished and hangs up at once (no close_notify) left the https
// listener's socket in CLOSE_WAIT forever: Node never marks it secure, and on the handshake timeout it only
// emits tlsClientError without closing it. Each such socket kept a file descriptor and ~60 KB of OpenSSL
// state; a handshake flood of them grew a worker by hundreds of MB for good. The listener now destroys the
// socket on tlsClientError, so they are gone within timeouts.header.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { setTimeout as pause } from 'node:timers/promises';
import { promisify } from 'node:util';
import { runSwitchyard } from '../support/run-switchyard.ts';

const run = promisify(execFile);
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** Server-side sockets of the listener on `port` in CLOSE_WAIT (the peer has gone, we have not closed). */
async function closeWait(port: number): Promise<number> {
  const { stdout } = await run('ss', ['-tanH', 'state', 'close-wait', `( sport = :${port} )`]);
  return stdout.split('\n').filter((line) => line.trim().length > 0).length;
}

test('sockets of clients that hang up right after the TLS handshake are closed within the handshake timeout', { timeout: 30_000 }, async () => {
  const running = await runSwitchyard(`
listeners:
  - name: tls
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true, min_version: TLSv1.3 }
    timeouts: { header: 500ms }
    routes:
      - { match: { path_prefix: / }, respond: { status: 200, body: ok } }
`);
  cleanups.push(() => running.stop());
  const { port } = running.ready.listeners.tls;
  const ca = await readFile(path.join(running.dir, 'data', 'tls', 'ca', 'ca.pem'));
  for (let i = 0; i < 50; i++) {
    await new Promise<void>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
  }
  // the server side saw the FIN; without the fix all 50 stay in CLOSE_WAIT for as long as the worker runs
  let left = await closeWait(port);
  const deadline = Date.now() + 5_000;
  while (left > 0 && Date.now() < deadline) {
    await pause(100);
    left = await closeWait(port);
  }
  assert.equal(left, 0, `${left} sockets still in CLOSE_WAIT 5 s after their clients left (handshake timeout 500 ms)`);
  // and the listener still serves
  const { stdout } = await run('curl', ['-sS', '--cacert', path.join(running.dir, 'data', 'tls', 'ca', 'ca.pem'), `https://localhost:${port}/`]);
  assert.equal(stdout, 'ok');
});
