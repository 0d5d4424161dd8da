// Profiles Switchyard's HTTP/2-over-TLS → HTTP/1.1 path under bench/h2.ts's load (h2load -c 50 -m 10
// against an https listener routed to the keep-alive pool of bench/http1/origin.ts): V8's CPU profile of
// the worker (node --cpu-prof, written when it exits on SIGTERM), summarized per function and per file.
//
// usage: node_modules/.bin/node bench/h2-profile.ts [--duration 10] [--keep DIR]
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcessSet, foreignCpuMeter, waitForQuietMachine, markdownTable, parseOptions, processTree, readCpuProfile, runBounded, runH2load, summarizeProfile, profileReport, perfReport, treeCpuSeconds, usage, waitForPort, freePort } from './common/index.ts';
import { ensureSelfSigned } from '../src/tls/index.ts';
import { switchyardConfig } from './http1/switchyard-config.ts';

const spec = {
  duration: { default: 10, help: 'seconds of profiled load' },
  warmup: { default: 3, help: 'seconds of load before the profiled run' },
  connections: { default: 50, help: 'h2load clients' },
  streams: { default: 10, help: 'concurrent streams per connection' },
  interval: { default: 1000, help: 'V8 sampling interval, µs' },
  top: { default: 30, help: 'rows per table' },
  cpu_only: { default: false, help: 'no V8 profiler: only the CPU µs per request' },
  perf: { default: false, help: 'also perf record the worker (kernel vs node vs JIT, hottest symbols)' },
  keep: { default: '', help: 'directory to keep the .cpuprofile files in' },
  runtime: { default: '{ allocator: auto }', help: "the config's runtime section (YAML flow), e.g. '{ allocator: auto, semi_space: 16mb }'" },
  quiet_wait: { default: 0, help: 'seconds to wait at most for other processes to use < 0.3 cores before the profiled run' },
  help: { default: false, help: 'this text' },
};
const options = parseOptions(process.argv.slice(2), spec);
if (options.help) {
  process.stdout.write(`usage: node_modules/.bin/node bench/h2-profile.ts [options]\n${usage(spec)}\n`);
  process.exit(0);
}
const root = path.resolve(import.meta.dirname, '..');

const processes = new ProcessSet();
const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-h2-profile-'));
processes.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
const profileDir = options.keep ? path.resolve(options.keep) : path.join(dir, 'profiles');
await mkdir(profileDir, { recursive: true });
const out: string[] = [];
try {
  const certs = await ensureSelfSigned(dir, 'bench', ['localhost', '127.0.0.1']);
  const origin = processes.spawn('origin', [process.execPath, path.join(root, 'bench', 'http1', 'origin.ts'), '--parent', String(process.pid)], { cpus: '1' });
  const upstream = `127.0.0.1:${(await origin.waitForLine((line) => line.startsWith('listening '), 10_000)).split(' ')[1]}`;
  const port = await freePort();
  const config = path.join(dir, 'switchyard.yaml');
  await writeFile(config, switchyardConfig({ workers: 1, listenPort: port, upstream, runtime: options.runtime, tls: { cert: certs.cert, key: certs.key } }));
  const nodeOptions = !options.cpu_only ? `--cpu-prof --cpu-prof-dir=${profileDir} --cpu-prof-interval=${options.interval}` : '';
  const proxy = processes.spawn('switchyard', [process.execPath, path.join(root, 'src', 'cli', 'main.ts'), 'start', '-c', config], {
    cpus: '0',
    cwd: dir,
    env: { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, nodeOptions].filter(Boolean).join(' ') },
  });
  await waitForPort('127.0.0.1', port, 20_000);
  const url = `https://127.0.0.1:${port}/`;
  const h2 = (seconds: number) => runH2load(['-c', String(options.connections), '-m', String(options.streams), '-t', '1', '-D', String(seconds), url], { cpus: '1', timeoutMs: (seconds + 60) * 1000 });
  const warm = options.warmup > 0 ? await h2(options.warmup) : undefined;
  const pids = await processTree(proxy.pid);
  const ours = (): number[] => [...pids, origin.pid];
  if (options.quiet_wait > 0) await waitForQuietMachine(0.3, options.quiet_wait * 1000, ours);
  const meter = await foreignCpuMeter(ours);
  const cpuBefore = await treeCpuSeconds(pids);
  const perfFile = path.join(dir, 'perf.data');
  const perf = options.perf ? runBounded(['perf', 'record', '-e', 'cpu-clock', '-F', '999', '-g', '-p', pids.join(','), '-o', perfFile, '--', 'sleep', String(Math.max(1, options.duration - 1))], (options.duration + 20) * 1000) : undefined;
  const result = await h2(options.duration);
  await perf;
  const cpu = (((await treeCpuSeconds(pids)) - cpuBefore) * 1e6) / Math.max(1, result.done);
  const { foreignCores } = await meter.stop();
  out.push(`## Switchyard h2 (TLS) → HTTP/1.1 under h2load -c${options.connections} -m${options.streams} for ${options.duration}s: ${result.requestsPerSecond.toFixed(0)} req/s, ${cpu.toFixed(1)} CPU µs/req${!options.cpu_only ? ' (profiler on)' : ''}${result.ok ? '' : ' FAILURES'}; others used ${foreignCores.toFixed(2)} cores`, '');
  if (options.perf) out.push(...(await perfTables(perfFile)));
  await processes.stop(proxy, 15_000);

  const files = !options.cpu_only ? (await readdir(profileDir)).filter((file) => file.endsWith('.cpuprofile')) : [];
  const summaries = await Promise.all(files.map(async (file) => ({ file, summary: summarizeProfile(await readCpuProfile(path.join(profileDir, file)), root) })));
  // the busiest profile is the worker's; the primary's is nearly all idle
  summaries.sort((a, b) => b.summary.totalUs - b.summary.idleUs - (a.summary.totalUs - a.summary.idleUs));
  const busiest = summaries[0];
  if (busiest) {
    out.push(...profileReport(busiest.file, busiest.summary, result.done + (warm?.done ?? 0), options.top));
  } else if (!options.cpu_only) out.push('no .cpuprofile was written');
  process.stdout.write(`${out.join('\n')}\n`);
  if (options.keep) process.stderr.write(`profiles kept in ${profileDir}\n`);
} finally {
  await processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}

/** perf's split by DSO (kernel, node binary, JIT code) and its hottest symbols. */
async function perfTables(file: string): Promise<string[]> {
  const report = (sort: string): Promise<string[][]> => perfReport(file, sort);
  return [
    'perf (cpu-clock, 999 Hz) by DSO, then by symbol:',
    '',
    markdownTable([{ title: 'dso' }, { title: 'share', align: 'right' }], await report('dso')),
    '',
    markdownTable([{ title: 'dso / symbol' }, { title: 'share', align: 'right' }], (await report('dso,sym')).slice(0, options.top)),
    '',
  ];
}
