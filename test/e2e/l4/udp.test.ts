// L4 UDP listeners through the real process, with real DNS servers as backends (Switchyard's own
// authoritative DNS in a second process, and Knot DNS) and dig as the client: a client flow keeps its
// backend, new flows spread per round_robin, a draining backend gets no new flows, a backend the dns
// health check marks down loses its flows to the other, the flow table is bounded (evictions counted),
// access lists apply per datagram source (and after a reload to open flows), flows stay put across two
// workers, PROXY v2 (DGRAM) headers reach the backend; `check` accepts
// a udp listener and refuses the tcp-only keys on it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { cliEntry, node24, runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const run = promisify(execFile);
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

// the two backends answer www.example.test differently, so an answer names the backend
const SWITCHYARD_ANSWER = '192.0.2.1';
const KNOT_ANSWER = '192.0.2.2';

/** Knot DNS in the foreground on a fresh port (picked again when taken), resolved once its zone is loaded. */
async function startKnot(): Promise<{ port: number; process: ChildProcess }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-knot-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'example.test.zone'), `$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\nwww A ${KNOT_ANSWER}\n`);
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPort();
    const conf = path.join(dir, 'knot.conf');
    await writeFile(
      conf,
      `server:\n  rundir: ${dir}\n  listen: 127.0.0.1@${port}\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\ndatabase:\n  storage: ${dir}\nlog:\n  - target: stderr\n    any: info\nzone:\n  - domain: example.test\n    file: ${dir}/example.test.zone\n`,
    );
    const child = spawn('knotd', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    cleanups.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    const outcome = await new Promise<'loaded' | 'in use' | 'failed'>((resolve) => {
      const timer = setTimeout(() => resolve('failed'), 10_000);
      createInterface({ input: child.stderr! }).on('line', (line) => {
        if (/\[example\.test\.\] loaded/.test(line)) resolve('loaded');
        else if (/address already in use/.test(line)) resolve('in use');
      });
      child.once('close', () => resolve('failed'));
      void exited.then(() => clearTimeout(timer));
    });
    if (outcome === 'loaded') return { port, process: child };
    child.kill('SIGKILL');
    await exited;
    if (outcome === 'failed' || attempt >= 4) throw new Error(`knotd did not start (${outcome})`);
  }
}

async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

async function edge(yaml: string): Promise<RunningSwitchyard> {
  const running = await runSwitchyard(yaml);
  cleanups.push(() => running.stop());
  return running;
}

/** Switchyard's authoritative DNS alone, answering www.example.test with `answer`. */
function authoritativeDns(answer: string): Promise<RunningSwitchyard> {
  return edge(`
dns:
  listen: [udp://127.0.0.1:0]
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records:
        - { name: www, type: A, value: ${answer} }
`);
}

/** dig www.example.test through `port`, optionally from a fixed source address#port; the A answer or 'timeout'. */
async function ask(port: number, source?: string): Promise<string> {
  const args = ['@127.0.0.1', '-p', String(port), '+short', '+tries=1', '+time=1', 'www.example.test', 'A', ...(source ? ['-b', source] : [])];
  try {
    const { stdout } = await run('dig', args, { timeout: 5_000 });
    return stdout.trim();
  } catch (err) {
    if (/timed out|no servers could be reached/.test(String((err as { stdout?: string }).stdout))) return 'timeout';
    throw err;
  }
}

interface UdpStatus {
  flows: number;
  flows_evicted: number;
  failovers: number;
  filter: { refused_access: number };
}

async function listenerStatus(running: RunningSwitchyard, name: string): Promise<UdpStatus> {
  const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
  const response = await fetch(`http://127.0.0.1:${running.ready.admin!.port}/api/status`, { headers: { authorization: `Bearer ${token}` } });
  const status = (await response.json()) as { traffic: { listeners: Record<string, UdpStatus> }[] };
  return status.traffic[0].listeners[name];
}

async function adminPost(running: RunningSwitchyard, pathname: string): Promise<void> {
  const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
  const response = await fetch(`http://127.0.0.1:${running.ready.admin!.port}${pathname}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200, await response.text());
}

let knot: { port: number; process: ChildProcess };
let authoritative: RunningSwitchyard;
let lb: RunningSwitchyard;

before(async () => {
  [knot, authoritative] = await Promise.all([
    startKnot(),
    authoritativeDns(SWITCHYARD_ANSWER),
  ]);
  const dnsPort = authoritative.ready.dns!.find((address) => address.transport === 'udp')!.port;
  lb = await edge(`
admin: { listen: 127.0.0.1:0 }
pools:
  ns:
    backends: [ { address: 127.0.0.1:${dnsPort} }, { address: 127.0.0.1:${knot.port} } ]
    health: { type: dns, query: example.test., qtype: SOA, interval: 200ms, timeout: 200ms, rise: 1, fall: 1 }
listeners:
  - { name: dns-lb, listen: 127.0.0.1:0, protocol: udp, pool: ns, timeouts: { udp_idle: 30s } }
  - { name: small, listen: 127.0.0.1:0, protocol: udp, pool: ns, limits: { max_flows: 2 } }
  - { name: guarded, listen: 127.0.0.1:0, protocol: udp, pool: ns, access: { deny: [127.0.0.2] } }
`);
});

test('a client flow keeps its backend; new flows spread round_robin; a draining backend gets no new flows', async () => {
  const port = lb.ready.listeners['dns-lb'].port;
  const firsts = [await ask(port), await ask(port)];
  assert.deepEqual([...firsts].sort(), [SWITCHYARD_ANSWER, KNOT_ANSWER], 'two new flows go to the two backends');
  const sourcePort = await freeUdpPort();
  const pinned = await ask(port, `127.0.0.1#${sourcePort}`);
  for (let index = 0; index < 4; index++) assert.equal(await ask(port, `127.0.0.1#${sourcePort}`), pinned, 'the same client port keeps its backend');

  // drain the backend of the pinned flow: new flows go to the other, the open flow carries on
  const drained = pinned === KNOT_ANSWER ? `127.0.0.1:${knot.port}` : `127.0.0.1:${authoritative.ready.dns![0].port}`;
  await adminPost(lb, `/api/pools/ns/backends/${drained}/drain`);
  for (let index = 0; index < 3; index++) assert.notEqual(await ask(port), pinned, 'no new flow on the draining backend');
  assert.equal(await ask(port, `127.0.0.1#${sourcePort}`), pinned, 'the open flow finishes on the draining backend');
  await adminPost(lb, `/api/pools/ns/backends/${drained}/enable`);
});

test('the flow table is bounded: the least recently used flow is evicted and counted', async () => {
  const port = lb.ready.listeners.small.port;
  for (let index = 0; index < 4; index++) assert.match(await ask(port), /^192\.0\.2\.[12]$/);
  const status = await listenerStatus(lb, 'small');
  assert.equal(status.flows, 2);
  assert.equal(status.flows_evicted, 2);
  // and in /metrics, summed over workers
  const token = (await readFile(path.join(lb.dir, 'data', 'admin.token'), 'utf8')).trim();
  const metrics = await (await fetch(`http://127.0.0.1:${lb.ready.admin!.port}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  assert.match(metrics, /^switchyard_l4_udp_flows_evicted_total\{listener="small",pool="ns"\} 2$/m);
  assert.match(metrics, /^switchyard_l4_udp_flows_total\{listener="small",pool="ns"\} 4$/m);
  assert.match(metrics, /^switchyard_l4_udp_flows\{listener="small",pool="ns"\} 2$/m);
});

test('access lists apply to each datagram source', async () => {
  const port = lb.ready.listeners.guarded.port;
  assert.match(await ask(port, '127.0.0.1'), /^192\.0\.2\.[12]$/);
  assert.equal(await ask(port, '127.0.0.2'), 'timeout');
  assert.equal((await listenerStatus(lb, 'guarded')).filter.refused_access, 1);
});

test('failover: flows of a backend the dns health check marks down move to the other', async () => {
  const port = lb.ready.listeners['dns-lb'].port;
  // a flow pinned to knot
  let sourcePort = 0;
  for (let attempt = 0; attempt < 4 && sourcePort === 0; attempt++) {
    const candidate = await freeUdpPort();
    if ((await ask(port, `127.0.0.1#${candidate}`)) === KNOT_ANSWER) sourcePort = candidate;
  }
  assert.ok(sourcePort !== 0, 'round_robin gave knot a flow');
  const since = lb.lines.length;
  knot.process.kill('SIGTERM');
  await lb.waitForLine((line) => line.msg === 'backend down' && line.backend === `127.0.0.1:${knot.port}` && lb.lines.indexOf(line) >= since, 5_000);
  // the worker hears of the transition a moment after the primary logs it: a few tries, bounded
  let answer = '';
  for (let attempt = 0; attempt < 5 && answer !== SWITCHYARD_ANSWER; attempt++) answer = await ask(port, `127.0.0.1#${sourcePort}`);
  assert.equal(answer, SWITCHYARD_ANSWER, 'the flow answers from the live backend');
  for (let index = 0; index < 3; index++) assert.equal(await ask(port), SWITCHYARD_ANSWER, 'new flows avoid the down backend');
});

test('a reload keeps the socket; open flows a new access list refuses end', async () => {
  const port = lb.ready.listeners.guarded.port;
  const sourcePort = await freeUdpPort();
  assert.equal(await ask(port, `127.0.0.1#${sourcePort}`), SWITCHYARD_ANSWER);
  const yaml = await readFile(lb.configFile, 'utf8');
  await writeFile(lb.configFile, yaml.replace('access: { deny: [127.0.0.2] }', 'access: { deny: [127.0.0.1] }'));
  const since = lb.lines.length;
  lb.process.kill('SIGHUP');
  await lb.waitForLine((line) => line.msg === 'reloaded' && lb.lines.indexOf(line) >= since, 10_000);
  const status = await listenerStatus(lb, 'guarded');
  assert.equal(status.flows, 0, 'the open flow from a now-denied source ended');
  assert.equal(await ask(port, `127.0.0.1#${sourcePort}`), 'timeout');
  assert.equal(await ask(port, '127.0.0.2'), SWITCHYARD_ANSWER, 'same socket, new list');
});

test('with two workers, each flow stays on one worker and one backend (SO_REUSEPORT hashes the source)', async () => {
  const dnsPort = authoritative.ready.dns!.find((address) => address.transport === 'udp')!.port;
  const second = await authoritativeDns('192.0.2.3');
  const running = await edge(`
workers: 2
pools:
  ns: { backends: [ { address: 127.0.0.1:${dnsPort} }, { address: 127.0.0.1:${second.ready.dns![0].port} } ] }
listeners:
  - { name: u, listen: 127.0.0.1:0, protocol: udp, pool: ns }
`);
  const port = running.ready.listeners.u.port;
  const seen = new Set<string>();
  for (let flow = 0; flow < 4; flow++) {
    const source = `127.0.0.1#${await freeUdpPort()}`;
    const first = await ask(port, source);
    seen.add(first);
    for (let index = 0; index < 3; index++) assert.equal(await ask(port, source), first, 'the flow keeps its backend');
  }
  // four flows over two workers: one worker has two, and its round_robin gives them both backends
  assert.deepEqual([...seen].sort(), [SWITCHYARD_ANSWER, '192.0.2.3']);
});

test('proxy_protocol: v2 prepends a DGRAM PROXY header naming the client to each datagram', async () => {
  const backend = dgram.createSocket('udp4');
  cleanups.push(() => new Promise<void>((resolve) => backend.close(() => resolve())));
  await new Promise<void>((resolve) => backend.bind(0, '127.0.0.1', resolve));
  backend.on('message', (message, peer) => backend.send(message, peer.port, peer.address));
  const running = await edge(`
pools:
  echo: { backends: [ { address: 127.0.0.1:${backend.address().port} } ] }
listeners:
  - { name: pp, listen: 127.0.0.1:0, protocol: udp, pool: echo, proxy_protocol: v2 }
`);
  const client = dgram.createSocket('udp4');
  cleanups.push(() => new Promise<void>((resolve) => client.close(() => resolve())));
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  const echoed = new Promise<Buffer>((resolve) => client.once('message', resolve));
  client.send('hello', running.ready.listeners.pp.port, '127.0.0.1');
  const reply = await echoed;
  assert.equal(reply.subarray(0, 12).toString('latin1'), '\r\n\r\n\0\r\nQUIT\n');
  assert.equal(reply[12], 0x21, 'version 2, PROXY');
  assert.equal(reply[13], 0x12, 'AF_INET, DGRAM');
  assert.equal(reply.readUInt16BE(14), 12);
  assert.deepEqual([...reply.subarray(16, 20)], [127, 0, 0, 1]);
  assert.equal(reply.readUInt16BE(24), client.address().port, 'the client port');
  assert.equal(reply.readUInt16BE(26), running.ready.listeners.pp.port, 'the listener port');
  assert.equal(reply.subarray(28).toString(), 'hello');
});

async function check(yaml: string): Promise<{ code: number; stderr: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-udp-check-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'edge.yaml');
  await writeFile(file, yaml);
  try {
    await run(node24, [cliEntry, 'check', file], { cwd: dir, timeout: 15_000 });
    return { code: 0, stderr: '' };
  } catch (err) {
    const failed = err as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

test('check accepts a udp listener and refuses the keys it would not read', async () => {
  const pool = 'pools:\n  ns: { backends: [ { address: 127.0.0.1:53 } ], health: { type: dns, query: example.test., qtype: SOA } }\n';
  const listener = (extra: string) => `${pool}listeners:\n  - { name: u, listen: 127.0.0.1:0, protocol: udp, pool: ns${extra} }\n`;
  assert.equal((await check(listener(', timeouts: { udp_idle: 10s }, limits: { max_flows: 100 }, proxy_protocol: v2, access: { allow: [127.0.0.0/8] }'))).code, 0);
  const refusals: [string, RegExp][] = [
    [listener(', timeouts: { tunnel_idle: 10s }'), /listeners\[0\]\.timeouts\.tunnel_idle: expected only udp_idle in timeouts of a udp listener, got tunnel_idle/],
    [listener(', limits: { max_connections: 10 }'), /listeners\[0\]\.limits\.max_connections: expected only max_flows in limits of a udp listener/],
    [listener(', proxy_protocol: v1'), /listeners\[0\]\.proxy_protocol: expected proxy_protocol: v2 on a udp listener, got v1/],
    [listener(', accept_proxy_protocol: [10.0.0.0/8]'), /listeners\[0\]\.accept_proxy_protocol: expected no accept_proxy_protocol on a udp listener/],
    [`${pool}listeners:\n  - { name: t, listen: 127.0.0.1:0, protocol: tcp, pool: ns, timeouts: { udp_idle: 10s } }\n`, /listeners\[0\]\.timeouts\.udp_idle: expected only upstream_connect, tunnel_idle, proxy_protocol in timeouts of a tcp listener, got udp_idle \(a udp setting\)/],
    [`pools:\n  ns: { backends: [ { address: 127.0.0.1:53 } ], health: { type: dns } }\nlisteners:\n  - { name: u, listen: 127.0.0.1:0, protocol: udp, pool: ns }\n`, /pools\.ns\.health\.query: expected a query/],
    [`pools:\n  ns: { backends: [ { address: 127.0.0.1:53 } ], health: { type: tcp, query: a.test. } }\nlisteners:\n  - { name: u, listen: 127.0.0.1:0, protocol: udp, pool: ns }\n`, /pools\.ns\.health\.query: expected no query in a health check of type: tcp/],
  ];
  for (const [yaml, expected] of refusals) {
    const outcome = await check(yaml);
    assert.equal(outcome.code, 1, `accepted:\n${yaml}`);
    assert.match(outcome.stderr, expected);
  }
});
