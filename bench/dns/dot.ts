// DNS over TLS (RFC 7858): dnsperf -m dot against Switchyard (`switchyard start`, one worker, a tls://
// listener) and Unbound (Debian's build; one thread, `tls-port` with the same certificate, the same zone
// served by an auth-zone), each pinned to CPU 0, dnsperf to CPU 1; interleaved rounds, medians, the ratio
// to Unbound, and CPU per answer at a fixed rate. Debian's Knot 3.2 has no DNS over TLS.
//
//   node_modules/.bin/node bench/dns/dot.ts [--rounds 3] [--seconds 5] [--clients 8] [--outstanding 500]
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { describeMachine, formatCount, formatFixed, formatRatio, machineFacts, markdownTable, median, parseOptions, processTree, ProcessSet, ratio, runBounded, treeCpuSeconds, waitForPort, freePort } from '../common/index.ts';
import { existingQueries, ORIGIN, zoneText } from './zone-data.ts';

const options = parseOptions(process.argv.slice(2), {
  rounds: { default: 3, help: 'interleaved rounds (medians over them)' },
  seconds: { default: 5, help: 'dnsperf run length per measurement' },
  clients: { default: 8, help: 'dnsperf -c (TLS connections)' },
  outstanding: { default: 500, help: 'dnsperf -q (queries in flight)' },
  fixed_rate: { default: 10000, help: 'q/s for the CPU-per-answer runs' },
});
const root = path.resolve(import.meta.dirname, '..', '..');
const processes = new ProcessSet();

interface Target {
  name: 'Unbound' | 'Switchyard';
  port: number;
  pids: () => Promise<number[]>;
}

async function dnsperf(port: number, file: string, rate = 0): Promise<{ qps: number; completed: number; completedPercent: number }> {
  const argv = ['taskset', '-c', '1', 'dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(options.seconds), '-c', String(options.clients), '-q', String(options.outstanding), '-m', 'dot'];
  if (rate > 0) argv.push('-Q', String(rate));
  const { stdout, stderr } = await runBounded(argv, (options.seconds + 30) * 1000);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1]);
  const completed = Number(/Queries completed:\s+(\d+)/.exec(stdout)?.[1]);
  const completedPercent = Number(/Queries completed:\s+\d+ \(([\d.]+)%\)/.exec(stdout)?.[1]);
  if (!Number.isFinite(qps)) throw new Error(`dnsperf failed: ${stdout.slice(-500)} ${stderr.slice(-500)}`);
  return { qps, completed, completedPercent };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-dot-'));
  try {
    const zoneFile = path.join(dir, 'bench.zone');
    await writeFile(zoneFile, zoneText());
    const queries = path.join(dir, 'existing.txt');
    await writeFile(queries, existingQueries(20000));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=dns.bench.test', '-keyout', path.join(dir, 'dns.key'), '-out', path.join(dir, 'dns.crt')], { stdio: 'ignore' });

    const unboundPort = await freePort();
    const unboundConf = path.join(dir, 'unbound.conf');
    await writeFile(
      unboundConf,
      `server:\n  interface: 127.0.0.1@${unboundPort}\n  tls-port: ${unboundPort}\n  tls-service-key: "${path.join(dir, 'dns.key')}"\n  tls-service-pem: "${path.join(dir, 'dns.crt')}"\n` +
        `  num-threads: 1\n  do-daemonize: no\n  use-syslog: no\n  logfile: ""\n  verbosity: 0\n  username: ""\n  chroot: ""\n  directory: "${dir}"\n  pidfile: "${path.join(dir, 'unbound.pid')}"\n` +
        `  access-control: 127.0.0.0/8 allow\n  incoming-num-tcp: 1000\n  auto-trust-anchor-file: ""\n\nauth-zone:\n  name: "${ORIGIN}"\n  zonefile: "${zoneFile}"\n  for-downstream: yes\n  for-upstream: no\n`,
    );
    const unbound = processes.spawn('unbound', ['unbound', '-d', '-c', unboundConf], { cpus: '0' });
    await waitForPort('127.0.0.1', unboundPort, 15_000);

    const conf = path.join(dir, 'switchyard.yaml');
    await writeFile(
      conf,
      `workers: 1\ndata_dir: ${dir}\ndns:\n  listen: [tls://127.0.0.1:0]\n  tls: { certificates: [ { cert: ${path.join(dir, 'dns.crt')}, key: ${path.join(dir, 'dns.key')} } ] }\n  zones:\n    - origin: ${ORIGIN}\n      file: ${zoneFile}\n`,
    );
    const switchyard = processes.spawn('switchyard', [path.join(root, 'node_modules', '.bin', 'node'), path.join(root, 'src', 'cli', 'main.ts'), 'start', '-c', conf], { cpus: '0' });
    const ready = await switchyard.waitForLine((text) => text.includes('"switchyard ready"'), 30_000);
    const switchyardPort = (JSON.parse(ready) as { dns: { port: number }[] }).dns[0].port;

    const targets: Target[] = [
      { name: 'Unbound', port: unboundPort, pids: async () => [unbound.pid] },
      { name: 'Switchyard', port: switchyardPort, pids: () => processTree(switchyard.pid) },
    ];
    const loadStart = loadavg()[0];
    for (const target of targets) await dnsperf(target.port, queries); // warm-up (JIT, caches)
    const qps = new Map<string, number[]>();
    const cpu = new Map<string, number[]>();
    for (let round = 0; round < options.rounds; round++) {
      for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
        const run = await dnsperf(target.port, queries);
        if (run.completedPercent < 99) throw new Error(`${target.name}: only ${run.completedPercent}% answered`);
        qps.set(target.name, [...(qps.get(target.name) ?? []), run.qps]);
        const pids = await target.pids();
        const before = await treeCpuSeconds(pids);
        const fixed = await dnsperf(target.port, queries, options.fixed_rate);
        cpu.set(target.name, [...(cpu.get(target.name) ?? []), (((await treeCpuSeconds(pids)) - before) * 1e6) / Math.max(1, fixed.completed)]);
        process.stderr.write(`round ${round + 1} ${target.name}: ${formatCount(run.qps)} q/s\n`);
      }
    }
    const facts = await machineFacts({ unbound: [['unbound', '-V'], /Version (\S+)/], dnsperf: [['dnsperf', '-h'], /DNS Performance Testing Tool\s+Version ([\d.]+)/] });
    const q = (name: string) => median(qps.get(name)!);
    const c = (name: string) => median(cpu.get(name)!);
    const table = markdownTable(
      [{ title: 'server' }, { title: 'q/s', align: 'right' }, { title: 'vs Unbound', align: 'right' }, { title: `CPU µs/answer at ${formatCount(options.fixed_rate)} q/s`, align: 'right' }, { title: 'efficiency vs Unbound', align: 'right' }],
      [
        ['Unbound', formatCount(q('Unbound')), '1.00×', formatFixed(c('Unbound'), 1), '1.00×'],
        ['Switchyard', formatCount(q('Switchyard')), formatRatio(ratio(q('Switchyard'), q('Unbound'))), formatFixed(c('Switchyard'), 1), formatRatio(ratio(c('Unbound'), c('Switchyard')))],
      ],
    );
    process.stdout.write(
      `## DNS over TLS: Switchyard vs Unbound (dnsperf -m dot)\n\n\`node_modules/.bin/node bench/dns/dot.ts --rounds ${options.rounds} --seconds ${options.seconds} --clients ${options.clients} --outstanding ${options.outstanding}\`\n\n` +
        `${new Date().toISOString().slice(0, 10)}; ${describeMachine(facts)}.\n` +
        `Switchyard: \`switchyard start\`, workers: 1, a tls:// listener; Unbound: one thread, tls-port, the zone as an auth-zone; the same certificate (P-256); servers pinned to CPU 0, dnsperf to CPU 1 with ${options.clients} TLS connections; existing names; ${options.rounds} interleaved rounds of ${options.seconds} s, medians.\n` +
        `Load average (1 min) ${loadStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end.\n\n${table}\n`,
    );
  } finally {
    await processes.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
