// OCSP stapling of tls.acme certificates: pebble names a responder in the certificates it issues (it runs
// none itself), and `openssl ocsp` answers there with pebble's intermediate as the signer. While the
// responder does not know the certificate ("unknown"), nothing is stapled and the edge asks again with
// backoff; once it answers "good", the response is stapled (openssl s_client -status sees it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { startPebble, type RunningPebble } from '../../support/pebble.ts';
import { lastFreePort, retryOnAddressInUse } from '../../support/ports.ts';
import { cleanupStack } from '../../support/cleanup.ts';

const defer = cleanupStack();

function yaml(pebble: RunningPebble, dataDir: string, httpPort: number, dnsPort: number): string {
  return `
data_dir: ${dataDir}
workers: 1
log: { level: info, access_log: off }
listeners:
  - name: plain
    listen: 127.0.0.1:${httpPort}
    protocol: http
    routes: [ { respond: { body: "plain\\n" } } ]
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls: { acme: { directory: "${pebble.directory}", ca: "${pebble.caFile}", hosts: [www.shop.test], challenges: [http-01] } }
    routes: [ { respond: { body: "web\\n" } } ]
dns:
  listen: [udp://127.0.0.1:${dnsPort}, tcp://127.0.0.1:${dnsPort}]
  zones:
    - origin: shop.test.
      soa: { mname: ns1.shop.test., rname: hostmaster.shop.test. }
      records: [ { name: www, type: A, value: 127.0.0.1 } ]
`;
}

/** `openssl ocsp` as a responder for pebble's intermediate, answering from `index` (an openssl ca index; read at start). */
async function startResponder(dir: string, port: number, pebble: RunningPebble, indexText = ''): Promise<{ stop: () => Promise<void> }> {
  const issuer = path.join(dir, 'intermediate.pem');
  const key = path.join(dir, 'intermediate.key');
  const index = path.join(dir, 'index.txt');
  await writeFile(issuer, await pebble.management('/intermediates/0'));
  await writeFile(key, await pebble.management('/intermediate-keys/0'));
  await writeFile(index, indexText);
  const child: ChildProcess = spawn('openssl', ['ocsp', '-index', index, '-port', String(port), '-CA', issuer, '-rsigner', issuer, '-rkey', key, '-ignore_err', '-nmin', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk;
      if (/waiting for OCSP client connections/i.test(out)) resolve();
      if (/in use|bind|error/i.test(out)) reject(new Error(`openssl ocsp: ${out}`));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`openssl ocsp exited (${code}): ${out}`)));
  });
  return {
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function run(command: string): Promise<string> {
  return new Promise((resolve) => execFile('sh', ['-c', command], { timeout: 20_000 }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`)));
}

test('tls.acme: a good OCSP response is stapled; until the responder knows the certificate nothing is', { timeout: 90_000 }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-acme-ocsp-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  let pebble!: RunningPebble;
  let responder!: Awaited<ReturnType<typeof startResponder>>;
  let edge!: RunningSwitchyard;
  let ocspPort = 0;
  await retryOnAddressInUse(async () => {
    const [httpPort, dnsPort] = [await lastFreePort(), await lastFreePort()];
    ocspPort = await lastFreePort();
    pebble = await startPebble({ dir, dnsPort, httpPort, validitySeconds: 3600, ocspResponderUrl: `http://127.0.0.1:${ocspPort}/` });
    try {
      responder = await startResponder(dir, ocspPort, pebble);
      edge = await runSwitchyard(yaml(pebble, path.join(dir, 'data'), httpPort, dnsPort), { timeoutMs: 30_000 });
    } catch (err) {
      await Promise.all([pebble.stop(), responder?.stop()]);
      throw err;
    }
  }, 3);
  defer(() => pebble.stop());
  defer(() => responder.stop());
  defer(() => edge.stop());

  await edge.waitForLine((line) => String(line.msg).startsWith('acme web: certificate issued'), 60_000);
  // the worker has swapped the placeholder for the issued certificate (what the connection below reads)
  await edge.waitForLine((line) => line.msg === 'tls web: certificates reloaded', 10_000);
  // the responder does not know the certificate yet: "unknown" is not stapled, and the edge asks again
  const unknown = await edge.waitForLine((line) => String(line.msg).startsWith('acme web: no OCSP response to staple'), 20_000);
  assert.match(String(unknown.error), /responder answers unknown/);
  const port = edge.ready.listeners.web.port;
  const leaf = await new Promise<X509Certificate>((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'www.shop.test', rejectUnauthorized: false }, () => {
      resolve(new X509Certificate(socket.getPeerCertificate(true).raw));
      socket.destroy();
    });
    socket.once('error', reject);
  });
  const before = await run(`openssl s_client -connect 127.0.0.1:${port} -servername www.shop.test -status </dev/null 2>&1`);
  assert.match(before, /OCSP response: no response sent/);

  // the CA's responder learns the certificate (valid, status V): the next attempt staples its answer
  const expiry = new Date(leaf.validTo).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  // the index holds the serial as openssl prints a number (BN_bn2hex): without the DER sign byte node keeps
  const serial = leaf.serialNumber.toUpperCase().replace(/^(00)+(?=..)/, '');
  await responder.stop();
  responder = await startResponder(dir, ocspPort, pebble, `V\t${expiry}\t\t${serial}\tunknown\t/CN=www.shop.test\n`);
  await edge.waitForLine((line) => String(line.msg).startsWith('acme web: stapling an OCSP response (good'), 30_000).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\nserial ${serial} (node ${leaf.serialNumber})\n${edge.lines.filter((line) => /ocsp|OCSP/.test(String(line.msg))).map((line) => JSON.stringify(line)).join('\n')}`);
  });
  await edge.waitForLine((line) => line.msg === 'tls web: certificates reloaded' && edge.lines.indexOf(line) > edge.lines.findIndex((one) => String(one.msg).startsWith('acme web: stapling')), 10_000);
  const after = await run(`openssl s_client -connect 127.0.0.1:${port} -servername www.shop.test -status </dev/null 2>&1`);
  assert.match(after, /OCSP Response Status: successful/);
  assert.match(after, /Cert Status: good/);
});
