// Profiles one proxy under the benchmark's load: V8's CPU profile of every Node process of the target
// (node --cpu-prof, written when the process exits on SIGTERM) and, with --perf, a system-wide view of
// the same processes (perf record: kernel vs V8 vs JavaScript, hottest symbols).
//
// usage: node_modules/.bin/node bench/http1/profile.ts [--target switchyard] [--duration 10] [--perf] [--keep DIR]
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ProcessSet,
  markdownTable,
  parseOptions,
  readCpuProfile,
  runBounded,
  runWrk,
  summarizeProfile,
  profileReport,
  perfReport,
  usage,
} from '../common/index.ts';
import { nginxTarget, plainNodeTarget, projectRoot, switchyardTarget, type Target } from './targets.ts';

const spec = {
  target: { default: 'switchyard', help: 'switchyard | switchyard-defaults | switchyard-2w | plain-node | nginx (nginx: perf only)' },
  duration: { default: 10, help: 'seconds of profiled load' },
  warmup: { default: 3, help: 'seconds of load before profiling starts' },
  connections: { default: 50, help: 'wrk connections' },
  access_log: { default: 'file', help: 'file | off' },
  interval: { default: 1000, help: 'V8 sampling interval, µs (smaller = more detail, more overhead)' },
  top: { default: 25, help: 'rows per table' },
  perf: { default: false, help: 'also record with perf (kernel/user split, native symbols)' },
  keep: { default: '', help: 'directory to keep the .cpuprofile files in (open them in Chrome DevTools)' },
  help: { default: false, help: 'this text' },
};
const options = parseOptions(process.argv.slice(2), spec);
if (options.help) {
  process.stdout.write(`usage: node_modules/.bin/node bench/http1/profile.ts [options]\n${usage(spec)}\n`);
  process.exit(0);
}

const targets: Record<string, Target> = {
  switchyard: switchyardTarget({ workers: 1, cpus: '0' }),
  'switchyard-2w': switchyardTarget({ workers: 2 }),
  'switchyard-defaults': switchyardTarget({ workers: 1, cpus: '0', defaults: true }),
  'plain-node': plainNodeTarget('0'),
  nginx: nginxTarget('0'),
};
const target = targets[options.target];
if (!target) throw new Error(`unknown --target ${options.target}`);
const unavailable = await target.unavailable();
if (unavailable) throw new Error(`${target.label}: ${unavailable}`);

const processes = new ProcessSet();
const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-profile-'));
// An interrupted run (SIGINT/SIGTERM) skips the finally below; its temp dir goes with the processes.
processes.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
const profileDir = options.keep ? path.resolve(options.keep) : path.join(dir, 'profiles');
await mkdir(profileDir, { recursive: true });
const out: string[] = [];
try {
  const origin = processes.spawn('origin', [process.execPath, path.join(projectRoot, 'bench', 'http1', 'origin.ts'), '--parent', String(process.pid)], { cpus: '1' });
  const port = (await origin.waitForLine((line) => line.startsWith('listening '), 10_000)).split(' ')[1];
  const nodeOptions = `--cpu-prof --cpu-prof-dir=${profileDir} --cpu-prof-interval=${options.interval}${options.perf ? ' --perf-basic-prof-only-functions' : ''}`;
  const started = await target.start({
    processes,
    dir,
    upstream: `127.0.0.1:${port}`,
    accessLog: options.access_log !== 'off',
    nodeEnv: { NODE_OPTIONS: [process.env.NODE_OPTIONS, nodeOptions].filter(Boolean).join(' ') },
  });
  // The profile covers the process's whole life, so per-request figures divide by every request it served.
  const warmup = options.warmup > 0 ? await runWrk({ url: started.url, connections: options.connections, durationS: options.warmup, cpus: '1' }) : undefined;
  const pids = await started.pids();
  const perfFile = path.join(dir, 'perf.data');
  const perf = options.perf
    ? runBounded(['perf', 'record', '-e', 'cpu-clock', '-F', '999', '-g', '-p', pids.join(','), '-o', perfFile, '--', 'sleep', String(options.duration)], (options.duration + 20) * 1000)
    : undefined;
  const result = await runWrk({ url: started.url, connections: options.connections, durationS: options.duration, cpus: '1' });
  await perf;
  out.push(`## Profile of ${target.label} under wrk -c${options.connections} for ${options.duration}s: ${result.requestsPerSecond.toFixed(0)} req/s (profiler on), p99 ${result.latencyMs.p99} ms`, '');
  if (options.perf) out.push(...(await perfTables(perfFile, pids)));
  await started.stop();

  const files = (await readdir(profileDir)).filter((file) => file.endsWith('.cpuprofile'));
  const summaries = await Promise.all(files.map(async (file) => ({ file, summary: summarizeProfile(await readCpuProfile(path.join(profileDir, file)), projectRoot) })));
  // The busiest profile is the worker's; the primary's is nearly all idle.
  summaries.sort((a, b) => b.summary.totalUs - b.summary.idleUs - (a.summary.totalUs - a.summary.idleUs));
  const busiest = summaries[0];
  if (!busiest) {
    out.push('no .cpuprofile was written (did the process exit through process.exit or a normal return on SIGTERM?)');
  } else {
    out.push(...profileReport(busiest.file, busiest.summary, result.requests + (warmup?.requests ?? 0), options.top));
  }
  process.stdout.write(`${out.join('\n')}\n`);
  if (options.keep) process.stderr.write(`profiles kept in ${profileDir}\n`);
} finally {
  await processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}

/** perf's split by DSO (kernel, node binary, JIT code) and its hottest symbols, for the given pids. */
async function perfTables(file: string, pids: number[]): Promise<string[]> {
  const report = (sort: string): Promise<string[][]> => perfReport(file, sort);
  const threads = await report('comm');
  const dsos = await report('dso');
  const symbols = await report('dso,sym');
  for (const pid of pids) await rm(`/tmp/perf-${pid}.map`, { force: true });
  return [
    'perf (cpu-clock, 999 Hz) by DSO — [kernel.kallsyms] is syscalls and the TCP stack, perf-PID.map is JIT-compiled JavaScript:',
    '',
    markdownTable([{ title: 'thread' }, { title: 'share', align: 'right' }], threads),
    '',
    markdownTable([{ title: 'dso' }, { title: 'share', align: 'right' }], dsos),
    '',
    markdownTable([{ title: 'dso / symbol' }, { title: 'share', align: 'right' }], symbols.slice(0, options.top)),
    '',
  ];
}
