// tls.acme.redis: two instances serving the same names with one Redis order once and serve the same
// certificate — at the first start and again at renewal. Pebble validates through instance A only (its DNS
// and its http listener). A starts first and orders; B, whose renew_before makes it renew first, orders the
// renewal, and its challenges reach the CA through A; A then takes the renewed certificate from Redis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { startPebble, type RunningPebble } from '../../support/pebble.ts';
import { lastFreePort, retryOnAddressInUse } from '../../support/ports.ts';
import { cleanupStack } from '../../support/cleanup.ts';

const defer = cleanupStack();
const validitySeconds = 30;

async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  return retryOnAddressInUse(async () => {
    const port = await lastFreePort();
    const redis: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    for await (const chunk of redis.stdout!) {
      out += chunk;
      if (out.includes('Ready to accept connections')) break;
      if (/address already in use/i.test(out)) throw new Error('redis: address already in use');
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      stop: async () => {
        if (redis.exitCode !== null) return;
        const exited = once(redis, 'exit');
        redis.kill('SIGTERM');
        await exited;
      },
    };
  });
}

function yaml(pebble: RunningPebble, redis: string, dataDir: string, httpPort: number, dnsPort: number, renewBefore?: string): string {
  return `
data_dir: ${dataDir}
workers: 1
log: { level: info, access_log: off }
listeners:
  - name: plain
    listen: 127.0.0.1:${httpPort}
    protocol: http
    routes: [ { respond: { body: "plain\\n" } } ]
  - name: wild
    listen: 127.0.0.1:0
    protocol: https
    tls: { acme: { directory: "${pebble.directory}", ca: "${pebble.caFile}", hosts: [example.test, "*.example.test", www.shop.test], challenges: [http-01, dns-01], redis: "${redis}"${renewBefore ? `, renew_before: ${renewBefore}` : ''} } }
    routes: [ { respond: { body: "wild\\n" } } ]
dns:
  listen: [udp://127.0.0.1:${dnsPort}, tcp://127.0.0.1:${dnsPort}]
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records: [ { name: "@", type: A, value: 127.0.0.1 }, { name: "*", type: A, value: 127.0.0.1 } ]
    - origin: shop.test.
      soa: { mname: ns1.shop.test., rname: hostmaster.shop.test. }
      records: [ { name: www, type: A, value: 127.0.0.1 } ]
`;
}

function servedSerial(edge: RunningSwitchyard, root: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: edge.ready.listeners.wild.port, servername: 'a.example.test', ca: root }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

const ordering = (line: Record<string, unknown>) => String(line.msg).startsWith('acme wild: ordering a certificate');
const issued = (line: Record<string, unknown>) => String(line.msg).startsWith('acme wild: certificate issued');
const taken = (line: Record<string, unknown>) => String(line.msg).startsWith('acme wild: certificate taken from redis');
const reloaded = (line: Record<string, unknown>) => line.msg === 'tls wild: certificates reloaded';

async function countAtLeast(edge: RunningSwitchyard, predicate: (line: Record<string, unknown>) => boolean, n: number, timeoutMs: number): Promise<void> {
  await edge.waitForLine(() => edge.lines.filter(predicate).length >= n, timeoutMs);
}

test('tls.acme.redis: two instances order once and serve one certificate, at start and at renewal', { timeout: 110_000 }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-acme-shared-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  const redis = await startRedis();
  defer(() => redis.stop());
  let pebble!: RunningPebble;
  let a!: RunningSwitchyard;
  let b!: RunningSwitchyard;
  await retryOnAddressInUse(async () => {
    const httpPort = await lastFreePort();
    const dnsPort = await lastFreePort();
    pebble = await startPebble({ dir, dnsPort, httpPort, validitySeconds });
    try {
      // A first: the CA's validations go to A, so nothing may be ordered before A answers
      a = await runSwitchyard(yaml(pebble, redis.url, path.join(dir, 'a'), httpPort, dnsPort), { timeoutMs: 30_000 });
      // B renews 12 s before the end (18 s into a 30 s certificate), A at two thirds (20 s)
      b = await runSwitchyard(yaml(pebble, redis.url, path.join(dir, 'b'), 0, 0, '12s'), { timeoutMs: 30_000 });
    } catch (err) {
      await Promise.all([pebble.stop(), a?.stop(), b?.stop()]);
      throw err;
    }
  }, 3);
  defer(() => pebble.stop());
  defer(() => a.stop());
  defer(() => b.stop());

  const both = [a, b];
  /** What both logged about ACME, for an assertion's message. */
  const story = () => both.flatMap((edge, index) => edge.lines.filter((line) => /acme/.test(String(line.msg))).map((line) => `${'ab'[index]} ${line.time} ${line.msg}${line.error ? ` (${line.error})` : ''}`)).join('\n');
  // A orders; B takes the certificate from redis
  await countAtLeast(a, issued, 1, 60_000);
  await countAtLeast(b, taken, 1, 15_000);
  assert.equal(a.lines.filter(ordering).length + b.lines.filter(ordering).length, 1, `exactly one order:\n${story()}`);
  await countAtLeast(a, reloaded, 1, 10_000);
  await countAtLeast(b, reloaded, 1, 10_000);
  const root = await pebble.issuingRoot();
  const first = await servedSerial(a, root);
  assert.equal(await servedSerial(b, root), first, 'both instances serve the same certificate');

  // B renews first: one order, validated through A, and A takes the renewed certificate when its own time comes
  await countAtLeast(b, issued, 1, validitySeconds * 1000);
  await countAtLeast(a, taken, 1, 15_000);
  assert.equal(a.lines.filter(ordering).length + b.lines.filter(ordering).length, 2, `one order per issuance:\n${story()}`);
  await countAtLeast(b, reloaded, 2, 10_000);
  await countAtLeast(a, reloaded, 2, 10_000);
  const renewed = await servedSerial(a, root);
  assert.notEqual(renewed, first);
  assert.equal(await servedSerial(b, root), renewed);
  if (process.env.ACME_TEST_DEBUG) for (const [name, edge] of [['a', a], ['b', b]] as const) for (const line of edge.lines) if (/acme/.test(String(line.msg))) console.log(name, JSON.stringify(line));
});
