// Forward-proxy benchmark (issue 18, "Performance"): requests per second through a Switchyard
// forward_proxy listener and through Debian's squid (no cache), both to the same loopback origin
// (bench/http1/origin.ts), in interleaved rounds. wrk sends absolute-URI requests (a Lua line sets the
// request target) over keep-alive connections to the proxy; each proxy runs as one process pinned to one
// CPU, wrk and the origin to the other. CPU per request is the proxy's own CPU time over the requests it
// served. Medians over the rounds.
//
// usage: node_modules/.bin/node bench/forward/run.ts [--rounds 5] [--duration 5] [--connections 32] [--results FILE]
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ProcessSet,
  describeMachine,
  foreignCpuMeter,
  freePort,
  machineFacts,
  markdownTable,
  median,
  parseOptions,
  parseWrk,
  runBounded,
  treeCpuSeconds,
  usage,
  waitForPort,
  waitForQuietMachine,
} from '../common/index.ts';

const spec = {
  rounds: { default: 5, help: 'interleaved rounds (medians are over these)' },
  duration: { default: 5, help: 'seconds per wrk run' },
  connections: { default: 32, help: 'wrk connections to the proxy' },
  warmup: { default: 3, help: 'seconds of unrecorded load per proxy before round 1 (JIT warm-up)' },
  proxy_cpu: { default: '0', help: 'CPU the proxies are pinned to' },
  load_cpu: { default: '1', help: 'CPU wrk and the origin are pinned to' },
  noise_limit: { default: 0.3, help: 'other processes\' CPU (cores) tolerated before a round; it waits up to quiet_wait for less' },
  quiet_wait: { default: 20, help: 'seconds to wait for a quiet machine before each run' },
  results: { default: '', help: 'also write the table to this file (e.g. bench/RESULTS-forward.md)' },
};

const projectRoot = path.resolve(import.meta.dirname, '..', '..');
const node = process.execPath;
const log = (line: string): void => void process.stderr.write(`${line}\n`);

interface Proxy {
  name: string;
  pid: number;
  port: number;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write(usage(spec));
    return;
  }
  const options = parseOptions(process.argv.slice(2), spec);
  const processes = new ProcessSet();
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-forward-'));
  await chmod(dir, 0o777); // squid started as root writes as its cache_effective_user
  try {
    const origin = processes.spawn('origin', [node, path.join(projectRoot, 'bench', 'http1', 'origin.ts'), '--parent', String(process.pid)], { cpus: options.load_cpu });
    const originPort = Number((await origin.waitForLine((line) => line.startsWith('listening '), 10_000)).split(' ')[1]);

    const switchyardPort = await freePort();
    const config = path.join(dir, 'switchyard.yaml');
    await writeFile(
      config,
      [
        'workers: 0',
        'log: { level: warn, access_log: off }',
        'listeners:',
        '  - name: egress',
        `    listen: 127.0.0.1:${switchyardPort}`,
        '    protocol: forward_proxy',
        '    allow: { clients: [127.0.0.1], hosts: [127.0.0.1], ports: ["*"], destinations: [127.0.0.1/32] }',
        '',
      ].join('\n'),
    );
    const switchyard = processes.spawn('switchyard', [node, path.join(projectRoot, 'src', 'cli', 'main.ts'), 'start', '-c', config], { cpus: options.proxy_cpu, cwd: dir });
    await waitForPort('127.0.0.1', switchyardPort, 20_000);

    const squidPort = await freePort();
    const squidConf = path.join(dir, 'squid.conf');
    await writeFile(
      squidConf,
      [
        `http_port 127.0.0.1:${squidPort}`,
        'workers 1',
        `pid_filename ${dir}/squid.pid`,
        'access_log none',
        `cache_log ${dir}/cache.log`,
        `coredump_dir ${dir}`,
        'cache deny all',
        'cache_mem 0 MB',
        'shutdown_lifetime 0 seconds',
        'forwarded_for on',
        'acl to_origin dst 127.0.0.1/32',
        'http_access allow localhost to_origin',
        'http_access deny all',
        '',
      ].join('\n'),
    );
    const squid = processes.spawn('squid', ['/usr/sbin/squid', '-N', '-f', squidConf], { cpus: options.proxy_cpu });
    await waitForPort('127.0.0.1', squidPort, 20_000);

    const proxies: Proxy[] = [
      { name: 'switchyard forward_proxy', pid: switchyard.pid, port: switchyardPort },
      { name: 'squid (no cache)', pid: squid.pid, port: squidPort },
    ];
    // wrk connects to the proxy and sends absolute-URI requests to the origin
    const script = path.join(dir, 'absolute.lua');
    await writeFile(script, `wrk.path = "http://127.0.0.1:${originPort}/"\nwrk.headers["Host"] = "127.0.0.1:${originPort}"\n`);
    const wrk = async (proxy: Proxy, seconds: number) => {
      const argv = ['taskset', '-c', options.load_cpu, 'wrk', '--latency', '-t', '1', '-c', String(options.connections), '-d', `${seconds}s`, '--timeout', '5s', '-s', script, `http://127.0.0.1:${proxy.port}/`];
      const { stdout, stderr, code } = await runBounded(argv, (seconds + 15) * 1000);
      if (code !== 0) throw new Error(`wrk exited with ${code}: ${stderr}`);
      return parseWrk(stdout);
    };

    for (const proxy of proxies) {
      const probe = await wrk(proxy, 1);
      if (probe.badResponses > 0 || probe.requests === 0) throw new Error(`${proxy.name}: ${probe.badResponses} bad responses of ${probe.requests} in the probe run`);
      await wrk(proxy, options.warmup);
    }

    const own = (): number[] => [origin.pid, switchyard.pid, squid.pid];
    const results = new Map<string, { rps: number[]; cpuUs: number[]; p99: number[]; errors: number; foreign: number[] }>();
    for (const proxy of proxies) results.set(proxy.name, { rps: [], cpuUs: [], p99: [], errors: 0, foreign: [] });
    for (let round = 1; round <= options.rounds; round++) {
      // interleaved, and the order alternates so neither proxy always runs on a warmer machine
      const order = round % 2 === 1 ? proxies : [...proxies].reverse();
      for (const proxy of order) {
        const noise = await waitForQuietMachine(options.noise_limit, options.quiet_wait * 1000, own);
        if (noise > options.noise_limit) log(`  machine busy (${noise.toFixed(2)} cores used by others); running anyway`);
        const meter = await foreignCpuMeter(own);
        const cpuBefore = await treeCpuSeconds([proxy.pid]);
        const result = await wrk(proxy, options.duration);
        const cpu = (await treeCpuSeconds([proxy.pid])) - cpuBefore;
        const { foreignCores } = await meter.stop();
        const entry = results.get(proxy.name)!;
        entry.rps.push(result.requestsPerSecond);
        entry.cpuUs.push((cpu * 1e6) / Math.max(1, result.requests));
        entry.p99.push(result.latencyMs.p99);
        entry.errors += result.socketErrors + result.badResponses;
        entry.foreign.push(foreignCores);
        log(`round ${round} ${proxy.name}: ${result.requestsPerSecond.toFixed(0)} req/s, ${((cpu * 1e6) / result.requests).toFixed(1)} µs CPU/req, p99 ${result.latencyMs.p99.toFixed(2)} ms, other CPU ${foreignCores.toFixed(2)}`);
      }
    }

    const facts = await machineFacts({ wrk: [['wrk', '-v'], /wrk (?:debian\/)?([\d.]+)/], squid: [['/usr/sbin/squid', '-v'], /Version ([\d.]+)/] });
    const squidRps = median(results.get('squid (no cache)')!.rps);
    const rows = proxies.map((proxy) => {
      const entry = results.get(proxy.name)!;
      return [
        proxy.name,
        median(entry.rps).toFixed(0),
        (median(entry.rps) / squidRps).toFixed(2),
        median(entry.cpuUs).toFixed(1),
        median(entry.p99).toFixed(2),
        String(entry.errors),
        median(entry.foreign).toFixed(2),
      ];
    });
    const table = markdownTable(
      [
        { title: 'proxy' },
        { title: 'requests/s', align: 'right' },
        { title: '× squid', align: 'right' },
        { title: 'CPU µs/request', align: 'right' },
        { title: 'p99 ms', align: 'right' },
        { title: 'errors', align: 'right' },
        { title: 'other CPU (cores)', align: 'right' },
      ],
      rows,
    );
    const report =
      `${new Date().toISOString().slice(0, 10)} — ${describeMachine(facts)}\n` +
      `${options.rounds} interleaved rounds of ${options.duration} s, wrk -c ${options.connections} -t 1 (absolute-URI GET, keep-alive), proxy on CPU ${options.proxy_cpu}, wrk and origin on CPU ${options.load_cpu}; medians\n\n${table}\n`;
    process.stdout.write(report);
    if (options.results !== '') await writeFile(path.resolve(projectRoot, options.results), `# Forward proxy: Switchyard vs squid\n\nnode_modules/.bin/node bench/forward/run.ts ${process.argv.slice(2).join(' ')}\n\n${report}`);
  } finally {
    await processes.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
