// L4 benchmark (issue 18, "Performance"): TCP throughput (iperf3) through Switchyard's `protocol: tcp`
// listener, HAProxy `mode tcp` and nginx `stream`; UDP queries per second (dnsperf against knotd) through
// Switchyard's `protocol: udp` listener and nginx `stream` udp. Each proxy is pinned to one CPU, the load
// generator and the upstream to the other; interleaved rounds, medians, ratios; and the proxy's CPU time
// per unit moved (per GB, per query), the figure that holds up on a shared machine. Prints a markdown
// table and writes bench/RESULTS-l4.md.
//
//   node_modules/.bin/node bench/l4/run.ts [--rounds 3] [--seconds 8] [--only tcp|udp] [--dry-run]
//
// Needs from Debian: iperf3, haproxy, nginx with its stream module (libnginx-mod-stream), knot (knotd),
// dnsperf.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import {
  describeMachine,
  formatCount,
  formatFixed,
  formatRatio,
  freePort,
  machineFacts,
  markdownTable,
  median,
  parseOptions,
  processTree,
  ProcessSet,
  range,
  ratio,
  runBounded,
  treeCpuSeconds,
  waitForPort,
  type ManagedProcess,
} from '../common/index.ts';
import { existingQueries, ORIGIN, zoneText } from '../dns/zone-data.ts';
import { JEMALLOC_PATHS } from '../../src/config/index.ts';
/** What Switchyard's primary gives its workers with jemalloc (src/supervisor/worker-runtime.ts). */
const JEMALLOC_CONF = 'background_thread:true';
import { haproxyConfig, nginxConfig, switchyardConfig, type L4Ports, type SwitchyardVariant } from './configs.ts';

const options = parseOptions(process.argv.slice(2), {
  rounds: { default: 3, help: 'interleaved rounds (medians over them)' },
  seconds: { default: 8, help: 'length of each iperf3 / dnsperf run' },
  only: { default: '', help: 'tcp or udp (default: both)' },
  clients: { default: 8, help: 'dnsperf -c (client sockets = UDP flows)' },
  outstanding: { default: 200, help: 'dnsperf -q (queries in flight)' },
  fixed_rate: { default: 10000, help: 'q/s for the UDP CPU-per-query runs (0 skips them)' },
  dry_run: { default: false, help: 'print the report only (do not write bench/RESULTS-l4.md)' },
});

const root = path.resolve(import.meta.dirname, '..', '..');
const node = path.join(root, 'node_modules', '.bin', 'node');
const PROXY_CPU = '0';
const LOAD_CPU = '1';
const log = (text: string): boolean => process.stderr.write(`${text}\n`);
const processes = new ProcessSet();
const NOTES_MARKER = '<!-- notes below: written by hand, kept when bench/l4/run.ts rewrites the tables above -->';

interface Running {
  name: string;
  port: number;
  /** The processes whose CPU time is the proxy's (empty for "direct"). */
  pids(): Promise<number[]>;
  stop(): Promise<void>;
}

interface ProxyKind {
  name: string;
  start(dir: string, protocol: 'tcp' | 'udp', upstream: number): Promise<Running>;
}

const treeOf = (managed: ManagedProcess) => (): Promise<number[]> => processTree(managed.pid);

const variantNames: Record<SwitchyardVariant, string> = { tuned: 'Switchyard', defaults: 'Switchyard (defaults)', 'system-allocator': 'Switchyard (allocator: system)' };

function switchyard(variant: SwitchyardVariant): ProxyKind {
  return {
    name: variantNames[variant],
    async start(dir, protocol, upstream) {
      const sub = path.join(dir, `switchyard-${protocol}-${variant}`);
      await mkdir(sub, { recursive: true });
      const ports: L4Ports = { listen: await freePort(), upstream };
      const conf = path.join(sub, 'switchyard.yaml');
      await writeFile(conf, switchyardConfig(protocol, ports, variant));
      const child = processes.spawn(this.name, [node, path.join(root, 'bin', 'switchyard.cjs'), 'start', '-c', conf], { cpus: PROXY_CPU, cwd: sub });
      await child.waitForLine((line) => line.includes('switchyard ready'), 30_000);
      if (protocol === 'tcp') await waitForPort('127.0.0.1', ports.listen, 10_000);
      else await waitForDnsAnswer(ports.listen, child);
      return { name: this.name, port: ports.listen, pids: treeOf(child), stop: () => processes.stop(child, 10_000) };
    },
  };
}

/** The plainest Node pipe (bench/l4/plain-pipe.ts), with the system allocator or jemalloc preloaded as Switchyard's workers have it. */
function plainNode(jemalloc: string | undefined): ProxyKind {
  return {
    name: jemalloc ? 'plain Node pipe (jemalloc)' : 'plain Node pipe',
    async start(_dir, protocol, upstream) {
      if (protocol !== 'tcp') throw new Error('the plain Node pipe is TCP only');
      const env = jemalloc ? { ...process.env, LD_PRELOAD: jemalloc, MALLOC_CONF: JEMALLOC_CONF } : process.env;
      const child = processes.spawn(this.name, [node, path.join(root, 'bench', 'l4', 'plain-pipe.ts'), String(upstream)], { cpus: PROXY_CPU, env });
      const port = Number((await child.waitForLine((line) => line.startsWith('listening '), 10_000)).split(' ')[1]);
      return { name: this.name, port, pids: treeOf(child), stop: () => processes.stop(child) };
    },
  };
}

const haproxy: ProxyKind = {
  name: 'HAProxy',
  async start(dir, protocol, upstream) {
    if (protocol !== 'tcp') throw new Error('HAProxy has no UDP proxying');
    const ports: L4Ports = { listen: await freePort(), upstream };
    const conf = path.join(dir, 'haproxy.cfg');
    await writeFile(conf, haproxyConfig(ports));
    const child = processes.spawn('haproxy', ['haproxy', '-db', '-f', conf], { cpus: PROXY_CPU });
    await waitForPort('127.0.0.1', ports.listen, 10_000);
    return { name: this.name, port: ports.listen, pids: treeOf(child), stop: () => processes.stop(child) };
  },
};

const nginx: ProxyKind = {
  name: 'nginx',
  async start(dir, protocol, upstream) {
    const sub = path.join(dir, `nginx-${protocol}`);
    await mkdir(sub, { recursive: true });
    const ports: L4Ports = { listen: await freePort(), upstream };
    const conf = path.join(sub, 'nginx.conf');
    await writeFile(conf, nginxConfig(sub, protocol, ports));
    const child = processes.spawn('nginx', ['nginx', '-c', conf, '-p', sub, '-e', path.join(sub, 'nginx-error.log')], { cpus: PROXY_CPU });
    try {
      if (protocol === 'tcp') await waitForPort('127.0.0.1', ports.listen, 10_000);
      else await waitForDnsAnswer(ports.listen, child);
    } catch (err) {
      throw new Error(`${(err as Error).message}; ${await readFile(path.join(sub, 'nginx-error.log'), 'utf8').catch(() => '')}`);
    }
    return { name: this.name, port: ports.listen, pids: treeOf(child), stop: () => processes.stop(child) };
  },
};

function direct(port: number): Running {
  return { name: 'direct (no proxy)', port, pids: async () => [], stop: async () => undefined };
}

/** Polls with dig until a DNS answer comes back through the port (bounded). */
async function waitForDnsAnswer(port: number, managed: ManagedProcess): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const { stdout } = await runBounded(['dig', '@127.0.0.1', '-p', String(port), '+short', '+tries=1', '+time=1', `host1.${ORIGIN}`, 'A'], 3000);
    if (stdout.trim() !== '') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${managed.name}: no DNS answer through port ${port}; stderr: ${managed.stderrTail()}`);
}

// ---------------------------------------------------------------- TCP

interface TcpMeasurement {
  gbits: number;
  bytes: number;
  cpuSeconds: number;
}

async function iperf3(target: Running, seconds: number): Promise<TcpMeasurement> {
  const pids = await target.pids();
  const before = await treeCpuSeconds(pids);
  const { stdout, stderr } = await runBounded(['taskset', '-c', LOAD_CPU, 'iperf3', '-c', '127.0.0.1', '-p', String(target.port), '-t', String(seconds), '-J'], (seconds + 30) * 1000);
  const after = await treeCpuSeconds(pids);
  let result: { end?: { sum_received?: { bits_per_second: number; bytes: number } }; error?: string };
  try {
    result = JSON.parse(stdout) as typeof result;
  } catch {
    throw new Error(`iperf3 through ${target.name}: ${stdout.slice(-400)} ${stderr.slice(-400)}`);
  }
  const received = result.end?.sum_received;
  if (!received) throw new Error(`iperf3 through ${target.name}: ${result.error ?? stdout.slice(-400)}`);
  return { gbits: received.bits_per_second / 1e9, bytes: received.bytes, cpuSeconds: after - before };
}

async function benchTcp(dir: string): Promise<{ table: string; notes: string[] }> {
  const iperfPort = await freePort();
  const server = processes.spawn('iperf3 -s', ['iperf3', '-s', '-p', String(iperfPort)], { cpus: LOAD_CPU });
  await waitForPort('127.0.0.1', iperfPort, 10_000);
  const jemalloc = JEMALLOC_PATHS.find((candidate) => existsSync(candidate));
  const kinds = [haproxy, nginx, switchyard('tuned'), switchyard('defaults'), switchyard('system-allocator'), plainNode(undefined), ...(jemalloc ? [plainNode(jemalloc)] : [])];
  const targets: Running[] = [direct(iperfPort)];
  for (const kind of kinds) targets.push(await kind.start(dir, 'tcp', iperfPort));
  // warm-up: JIT, socket buffers grown to their steady size
  for (const target of targets) await iperf3(target, 2);
  const results = new Map<string, TcpMeasurement[]>();
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const m = await iperf3(target, options.seconds);
      results.set(target.name, [...(results.get(target.name) ?? []), m]);
      log(`tcp round ${round + 1} ${target.name}: ${m.gbits.toFixed(2)} Gbit/s, proxy CPU ${m.cpuSeconds.toFixed(2)} s for ${(m.bytes / 1e9).toFixed(1)} GB`);
    }
  }
  for (const target of targets) await target.stop();
  await processes.stop(server);

  const gbitsOf = (name: string): number => median((results.get(name) ?? []).map((m) => m.gbits));
  const cpuPerGbOf = (name: string): number => median((results.get(name) ?? []).map((m) => m.cpuSeconds / (m.bytes / 1e9)));
  const haproxyGbits = gbitsOf('HAProxy');
  const haproxyCpu = cpuPerGbOf('HAProxy');
  const rows = targets.map((target) => {
    const spread = range((results.get(target.name) ?? []).map((m) => m.gbits));
    const isProxy = target.name !== direct(0).name;
    return [
      target.name,
      formatFixed(gbitsOf(target.name), 2),
      spread ? `${spread[0].toFixed(2)}–${spread[1].toFixed(2)}` : '–',
      isProxy ? formatRatio(ratio(gbitsOf(target.name), haproxyGbits)) : '–',
      isProxy ? formatFixed(cpuPerGbOf(target.name), 3) : '–',
      isProxy ? formatRatio(ratio(haproxyCpu, cpuPerGbOf(target.name))) : '–',
    ];
  });
  const table = markdownTable(
    [
      { title: 'TCP (iperf3, 1 stream)' },
      { title: 'Gbit/s', align: 'right' },
      { title: 'range', align: 'right' },
      { title: 'vs HAProxy', align: 'right' },
      { title: 'proxy CPU s/GB', align: 'right' },
      { title: 'CPU efficiency vs HAProxy', align: 'right' },
    ],
    rows,
  );
  const sy = ratio(gbitsOf('Switchyard'), haproxyGbits);
  const syCpu = ratio(haproxyCpu, cpuPerGbOf('Switchyard'));
  return {
    table,
    notes: [
      `Target ≥ 0.70× HAProxy: throughput ratio ${formatRatio(sy)} (${sy >= 0.7 ? 'met' : 'NOT met'}), CPU-per-GB ratio ${formatRatio(syCpu)} (${syCpu >= 0.7 ? 'met' : 'NOT met'}).`,
    ],
  };
}

// ---------------------------------------------------------------- UDP

interface UdpMeasurement {
  qps: number;
  completedPercent: number;
  completed: number;
  cpuSeconds: number;
}

async function dnsperf(target: Running, file: string, seconds: number, rate = 0): Promise<UdpMeasurement> {
  const pids = await target.pids();
  const before = await treeCpuSeconds(pids);
  const argv = ['taskset', '-c', LOAD_CPU, 'dnsperf', '-s', '127.0.0.1', '-p', String(target.port), '-d', file, '-l', String(seconds), '-c', String(options.clients), '-q', String(options.outstanding), '-m', 'udp'];
  if (rate > 0) argv.push('-Q', String(rate));
  const { stdout, stderr } = await runBounded(argv, (seconds + 30) * 1000);
  const after = await treeCpuSeconds(pids);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1]);
  const completedPercent = Number(/Queries completed:\s+\d+ \(([\d.]+)%\)/.exec(stdout)?.[1]);
  const completed = Number(/Queries completed:\s+(\d+)/.exec(stdout)?.[1]);
  if (!Number.isFinite(qps)) throw new Error(`dnsperf through ${target.name}: ${stdout.slice(-500)} ${stderr.slice(-500)}`);
  return { qps, completedPercent, completed, cpuSeconds: after - before };
}

async function startKnot(dir: string): Promise<{ port: number; process: ManagedProcess }> {
  const zoneFile = path.join(dir, 'bench.zone');
  await writeFile(zoneFile, zoneText());
  const port = await freePort();
  const conf = path.join(dir, 'knot.conf');
  await writeFile(
    conf,
    `server:\n  rundir: "${dir}"\n  listen: 127.0.0.1@${port}\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\n` +
      `log:\n  - target: stderr\n    any: warning\ndatabase:\n  storage: "${dir}"\n` +
      `zone:\n  - domain: ${ORIGIN}\n    file: "${zoneFile}"\n    journal-content: none\n`,
  );
  const knot = processes.spawn('knotd', ['knotd', '-c', conf], { cpus: LOAD_CPU });
  await waitForDnsAnswer(port, knot);
  return { port, process: knot };
}

async function benchUdp(dir: string): Promise<{ table: string; notes: string[] }> {
  const knot = await startKnot(dir);
  const queries = path.join(dir, 'queries.txt');
  await writeFile(queries, existingQueries(100_000));
  const kinds = [nginx, switchyard('tuned'), switchyard('defaults'), switchyard('system-allocator')];
  const targets: Running[] = [direct(knot.port)];
  for (const kind of kinds) targets.push(await kind.start(dir, 'udp', knot.port));
  for (const target of targets) await dnsperf(target, queries, 2);
  const results = new Map<string, UdpMeasurement[]>();
  const cpu = new Map<string, number[]>();
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const m = await dnsperf(target, queries, options.seconds);
      results.set(target.name, [...(results.get(target.name) ?? []), m]);
      log(`udp round ${round + 1} ${target.name}: ${formatCount(m.qps)} q/s, ${m.completedPercent}% answered`);
    }
    if (options.fixed_rate > 0) {
      for (const target of order.filter((candidate) => candidate.name !== direct(0).name)) {
        const m = await dnsperf(target, queries, options.seconds, options.fixed_rate);
        const us = (m.cpuSeconds * 1e6) / Math.max(1, m.completed);
        cpu.set(target.name, [...(cpu.get(target.name) ?? []), us]);
        log(`udp round ${round + 1} ${target.name} at ${options.fixed_rate} q/s: ${us.toFixed(1)} µs proxy CPU per query, ${m.completedPercent}% answered`);
      }
    }
  }
  const knotCpu = await treeCpuSeconds([knot.process.pid]);
  for (const target of targets) await target.stop();
  await processes.stop(knot.process);

  const qpsOf = (name: string): number => median((results.get(name) ?? []).map((m) => m.qps));
  const usOf = (name: string): number => median(cpu.get(name) ?? []);
  const nginxQps = qpsOf('nginx');
  const rows = targets.map((target) => {
    const runs = results.get(target.name) ?? [];
    const spread = range(runs.map((m) => m.qps));
    const isProxy = target.name !== direct(0).name;
    return [
      target.name,
      formatCount(qpsOf(target.name)),
      spread ? `${formatCount(spread[0])}–${formatCount(spread[1])}` : '–',
      `${Math.min(...runs.map((m) => m.completedPercent)).toFixed(2)} %`,
      isProxy ? formatRatio(ratio(qpsOf(target.name), nginxQps)) : '–',
      isProxy ? formatFixed(usOf(target.name), 1) : '–',
      isProxy ? formatRatio(ratio(usOf('nginx'), usOf(target.name))) : '–',
    ];
  });
  const table = markdownTable(
    [
      { title: 'UDP (dnsperf → knotd)' },
      { title: 'queries/s', align: 'right' },
      { title: 'range', align: 'right' },
      { title: 'answered (worst)', align: 'right' },
      { title: 'vs nginx', align: 'right' },
      { title: `proxy CPU µs/query at ${formatCount(options.fixed_rate)} q/s`, align: 'right' },
      { title: 'CPU efficiency vs nginx', align: 'right' },
    ],
    rows,
  );
  const sy = ratio(qpsOf('Switchyard'), nginxQps);
  const syCpu = ratio(usOf('nginx'), usOf('Switchyard'));
  return {
    table,
    notes: [
      `Target ≥ 0.50× nginx: queries/s ratio ${formatRatio(sy)} (${sy >= 0.5 ? 'met' : 'NOT met'}), CPU-per-query ratio ${formatRatio(syCpu)} (${syCpu >= 0.5 ? 'met' : 'NOT met'}).`,
      `Each query is two datagrams through the proxy (query in, answer out). knotd used ${knotCpu.toFixed(1)} CPU s over the whole UDP part.`,
    ],
  };
}

// ---------------------------------------------------------------- main

const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-l4-'));
processes.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
try {
  const loads = [loadavg()[0]];
  const sampler = setInterval(() => loads.push(loadavg()[0]), 5000);
  const startedAt = new Date();
  const sections: string[] = [];
  if (options.only !== 'udp') {
    const tcp = await benchTcp(dir);
    sections.push(tcp.table, '', ...tcp.notes, '');
  }
  if (options.only !== 'tcp') {
    const udp = await benchUdp(dir);
    sections.push(udp.table, '', ...udp.notes, '');
  }
  clearInterval(sampler);
  loads.push(loadavg()[0]);
  const facts = await machineFacts({
    haproxy: [['haproxy', '-v'], /version (\S+)/],
    nginx: [['nginx', '-v'], /nginx\/(\S+)/],
    iperf3: [['iperf3', '--version'], /iperf (\S+)/],
    knotd: [['knotd', '--version'], /version ([\d.]+)/],
    dnsperf: [['dnsperf', '-h'], /Version ([\d.]+)/],
  });
  const command = `node_modules/.bin/node bench/l4/run.ts --rounds ${options.rounds} --seconds ${options.seconds}${options.only ? ` --only ${options.only}` : ''}`;
  const report = [
    '## L4: Switchyard vs HAProxy and nginx stream',
    '',
    `\`${command}\``,
    '',
    `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC; ${describeMachine(facts)}.`,
    `Each proxy pinned to CPU ${PROXY_CPU} with one worker / one thread and no access log (HAProxy \`nbthread 1\`, nginx \`worker_processes 1\`,`,
    `Switchyard \`workers: 1\`); iperf3 (client and server) or dnsperf and knotd (1 UDP worker) pinned to CPU ${LOAD_CPU}. ${options.rounds} interleaved`,
    `rounds of ${options.seconds} s (order reversed every other round), medians. "Switchyard (defaults)" is the listener as a user writes it`,
    '(access log on, JSON to stdout); "allocator: system" is Switchyard tuned, with `runtime: { allocator: system }` instead of the',
    'default (jemalloc when installed); "plain Node pipe" is bench/l4/plain-pipe.ts (accept, connect, pipe() both ways) on the same Node,',
    'with the system allocator or with jemalloc preloaded as Switchyard\'s workers have it. Proxy CPU is utime + stime of the proxy\'s whole process tree (primary + worker) from /proc.',
    `Load average (1 min) during the run: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} on ${facts.nproc} CPUs — the machine is shared with`,
    'other work, so absolute throughput is noisy and CPU time per unit moved is the more robust comparison.',
    '',
    ...sections,
  ].join('\n');
  process.stdout.write(`${report}\n`);
  if (!options.dry_run) {
    // what follows the marker in RESULTS-l4.md (the reading of the figures, profiles) is written by hand and kept
    const file = path.join(root, 'bench', 'RESULTS-l4.md');
    const previous = await readFile(file, 'utf8').catch(() => '');
    const kept = previous.includes(NOTES_MARKER) ? previous.slice(previous.indexOf(NOTES_MARKER)) : `${NOTES_MARKER}\n`;
    await writeFile(file, `# L4 benchmark results\n\n${report}\n${kept}`);
  }
} finally {
  await processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}
