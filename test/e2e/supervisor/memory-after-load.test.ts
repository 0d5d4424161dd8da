// A worker gives its memory back after load: a TLS handshake flood (clients that hang up the moment their
// handshake is done) and 5k connections held at once, or 5k connections to a plain HTTP worker, then idle.
// The worker's open files return to their figure before the load (no socket left in CLOSE_WAIT), it runs
// its idle collection, and its RSS, polled until it settles, comes back to within 20 % of the settled
// figure before the load. Run with a fresh `npm run build`: workers then run dist/, as installs and CI do.
// docs/operations.md, "Memory after load".
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { setTimeout as pause } from 'node:timers/promises';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { startEchoOrigin } from '../../support/origins.ts';
import { cleanupStack } from '../../support/cleanup.ts';

const HANDSHAKES = 2_000;
const CONNECTIONS = 5_000;
const BOUND = 1.2;
const MB = 1024 * 1024;

const defer = cleanupStack();

/** Resident set in bytes; throws when /proc cannot say, so nothing passes unmeasured. */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`rss of ${pid}: no VmRSS line in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

const openFiles = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** Polls every 500 ms until `done(samples)` holds or the deadline passes; returns the samples. */
async function poll(pid: number, deadlineMs: number, done: (samples: number[]) => boolean): Promise<number[]> {
  const samples = [rssOf(pid)];
  const deadline = Date.now() + deadlineMs;
  while (!done(samples) && Date.now() < deadline) {
    await pause(500);
    samples.push(rssOf(pid));
  }
  return samples;
}

/** Settled: the last 3 s of samples lie within 2 MB of each other. */
const settled = (samples: number[]): boolean => {
  const last = samples.slice(-7);
  return last.length === 7 && Math.max(...last) - Math.min(...last) < 2 * MB;
};

interface WorkerStatus {
  pid: number;
  /** Memory-reducing collections the worker ran so far, each when it fell idle after load. */
  idle_collections: number;
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
}

/** The one worker's entry in the admin API's status (its pid and where its memory is). */
async function workerStatus(running: RunningSwitchyard): Promise<WorkerStatus> {
  const token = readFileSync(path.join(running.dir, 'data', 'admin.token'), 'utf8').trim();
  const response = await fetch(`http://127.0.0.1:${running.ready.admin!.port}/api/status`, { headers: { authorization: `Bearer ${token}` } });
  const status = (await response.json()) as { traffic: WorkerStatus[] };
  assert.equal(status.traffic.length, 1, 'one worker');
  return status.traffic[0];
}

/** TLS handshakes, `concurrency` at a time; each client hangs up (no close_notify) once its handshake is done. */
async function handshakeFlood(port: number, ca: Buffer, count: number, concurrency: number): Promise<number> {
  let started = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count) {
        started++;
        await new Promise<void>((resolve, reject) => {
          const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
            socket.destroy();
            done++;
            resolve();
          });
          socket.once('error', reject);
        });
      }
    }),
  );
  return done;
}

/** One request on each of `count` connections, all held open at once, then all closed. */
async function manyConnections(port: number, count: number): Promise<void> {
  const sockets: net.Socket[] = [];
  try {
    for (let opened = 0; opened < count; opened += 250) {
      const batch = Array.from({ length: Math.min(250, count - opened) }, () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
          sockets.push(socket);
          socket.once('data', (chunk: Buffer) => (chunk.toString('latin1').startsWith('HTTP/1.1 200') ? resolve(socket) : reject(new Error(`unexpected answer: ${chunk.toString('latin1', 0, 40)}`))));
          socket.once('error', reject);
        }),
      );
      await Promise.all(batch);
    }
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

/**
 * The worker's RSS settled before `load`, at its peak, and after it: once the worker has run its idle
 * collection (its admin status counts them), polled until back within BOUND and steady, or 60 s.
 */
async function rssAround(running: RunningSwitchyard, load: () => Promise<void>) {
  const { pid, memory: heapBefore } = await workerStatus(running);
  const before = await poll(pid, 15_000, settled);
  const baseline = before.at(-1)!;
  const filesBefore = openFiles(pid);
  const { idle_collections: collectionsBefore } = await workerStatus(running);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 250);
  const started = Date.now();
  try {
    await load();
  } finally {
    clearInterval(sampler);
  }
  const loadMs = Date.now() - started;
  const idleStarted = Date.now();
  // idle: every socket closes (a hung-up handshake within the handshake timeout), the worker's loop falls
  // idle and it collects (sampled every 2 s), then jemalloc's background thread purges on its 10 s decay
  let deadline = Date.now() + 10_000;
  while (openFiles(pid) > filesBefore && Date.now() < deadline) await pause(250);
  const extraFiles = openFiles(pid) - filesBefore;
  deadline = Date.now() + 20_000;
  while ((await workerStatus(running)).idle_collections === collectionsBefore && Date.now() < deadline) await pause(250);
  const { idle_collections: collectionsAfter } = await workerStatus(running);
  const idle = await poll(pid, 60_000, (samples) => samples.at(-1)! <= baseline * BOUND && settled(samples));
  const { memory: heapAfter } = await workerStatus(running);
  // the figures differ by code base (the sources' type stripping adds ~18 MB to the baseline): say which ran
  const sources = running.lines.find((line) => line.msg === 'workers run the TypeScript sources');
  const code = sources ? `the TypeScript sources (${String(sources.reason)})` : 'dist/';
  return { baseline, peak, final: idle.at(-1)!, idleSeconds: (Date.now() - idleStarted) / 1000, extraFiles, collected: collectionsAfter > collectionsBefore, loadMs, heapBefore, heapAfter, code };
}

const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;

const PLAIN_LISTENER = `
  - name: plain
    listen: 127.0.0.1:0
    limits: { max_connections: ${CONNECTIONS + 100} }
    routes:
      - { match: { path_prefix: / }, pool: app }`;

/** One worker (allocator auto) in front of an echo origin, with these listeners. */
async function edgeWith(listeners: string): Promise<RunningSwitchyard> {
  const origin = await startEchoOrigin();
  defer(() => origin.close());
  const running = await runSwitchyard(`
admin: { listen: 127.0.0.1:0 }
log: { access_log: off }
pools:
  app:
    backends: [ { address: ${origin.address} } ]
listeners:${listeners}
`);
  defer(() => running.stop());
  return running;
}

const heap = (memory: WorkerStatus['memory']): string => `heap ${mb(memory.heapUsed)} of ${mb(memory.heapTotal)}, external ${mb(memory.external)}`;

function assertReturned(t: TestContext, load: string, result: Awaited<ReturnType<typeof rssAround>>): void {
  t.diagnostic(`rss before ${mb(result.baseline)}, peak ${mb(result.peak)} (${load}, ${result.loadMs} ms), idle ${mb(result.final)} (${(result.final / result.baseline).toFixed(2)}×) after ${result.idleSeconds.toFixed(1)} s idle`);
  t.diagnostic(`worker runs ${result.code}; before: ${heap(result.heapBefore)}; idle after: ${heap(result.heapAfter)}`);
  assert.ok(result.collected, 'the worker ran no idle collection within 20 s of the load');
  assert.ok(result.extraFiles <= 0, `the worker still holds ${result.extraFiles} more files than before the load (sockets never closed)`);
  assert.ok(result.final <= result.baseline * BOUND, `idle rss ${mb(result.final)}, more than ${BOUND}× the ${mb(result.baseline)} before the load (${heap(result.heapAfter)})`);
}

test('a worker returns to its idle memory after a TLS handshake flood and 5k connections', { timeout: 150_000 }, async (t) => {
  const running = await edgeWith(`
  - name: tls
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true }
    timeouts: { header: 2s }
    routes:
      - { match: { path_prefix: / }, pool: app }${PLAIN_LISTENER}`);
  const ca = readFileSync(path.join(running.dir, 'data', 'tls', 'ca', 'ca.pem'));
  const { tls: tlsPort, plain } = { tls: running.ready.listeners.tls.port, plain: running.ready.listeners.plain.port };
  // warm both listeners up before the settled figure
  await handshakeFlood(tlsPort, ca, 20, 4);
  await manyConnections(plain, 20);
  const result = await rssAround(running, async () => {
    assert.equal(await handshakeFlood(tlsPort, ca, HANDSHAKES, 50), HANDSHAKES);
    await manyConnections(plain, CONNECTIONS);
  });
  assertReturned(t, `${HANDSHAKES} hung-up handshakes, ${CONNECTIONS} connections`, result);
});

test('a plain HTTP worker returns to its idle memory after 5k connections', { timeout: 150_000 }, async (t) => {
  const running = await edgeWith(PLAIN_LISTENER);
  const plain = running.ready.listeners.plain.port;
  await manyConnections(plain, 20);
  const result = await rssAround(running, () => manyConnections(plain, CONNECTIONS));
  assertReturned(t, `${CONNECTIONS} connections`, result);
});
