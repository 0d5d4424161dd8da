// HTTP/1.1 proxy benchmark (issue 2, "Performance"): wrk against the origin alone, Switchyard, nginx and
// the plainest Node proxy, in interleaved rounds; the proxy pinned on one CPU, wrk and the origin on the
// other; then again with each proxy held to the same CPU quota in a cgroup ("equal CPU").
//
// usage: node_modules/.bin/node bench/http1/run.ts [--rounds 3] [--duration 8] [--connections 50] [--results bench/RESULTS.md]
import { mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CpuCgroup,
  ProcessSet,
  describeMachine,
  foreignCpuMeter,
  median,
  waitForQuietMachine,
  machineFacts,
  parseOptions,
  probeCgroupCpu,
  readMemory,
  runWrk,
  sampleRss,
  treeCpuSeconds,
  usage,
  type CpuQuota,
} from '../common/index.ts';
import { resultsTable, targetChecks, type Measurement, type Mode, type TargetInfo } from './report.ts';
import { directTarget, nginxTarget, plainNodeTarget, projectRoot, switchyardTarget, type RunningTarget, type Target } from './targets.ts';

const spec = {
  rounds: { default: 3, help: 'interleaved rounds (medians are over these)' },
  duration: { default: 8, help: 'seconds per wrk run' },
  connections: { default: 50, help: 'wrk connections' },
  warmup: { default: 3, help: 'seconds of unrecorded load per target before round 1 (JIT warm-up)' },
  access_log: { default: 'file', help: 'file | off — access logs of Switchyard and nginx' },
  quota: { default: '5000/10000', help: 'equal-CPU quota: µs of CPU per period µs' },
  skip_equal_cpu: { default: false, help: 'run only the pinned mode' },
  only: { default: '', help: 'comma list of targets: direct,switchyard,nginx,plain-node,switchyard-2w,switchyard-defaults' },
  proxy_cpu: { default: '0', help: 'CPU the proxies are pinned to' },
  load_cpu: { default: '1', help: 'CPU wrk and the origin are pinned to' },
  noise_limit: { default: 0.15, help: 'a run during which other processes used more CPU (in cores) is repeated' },
  quiet_wait: { default: 30, help: 'seconds to wait, before each run, for other processes to leave the CPUs alone' },
  retries: { default: 1, help: 'repeats of a disturbed run (the quieter one is kept)' },
  raw: { default: '', help: 'also write every kept measurement as JSON to this file' },
  results: { default: '', help: 'also write the report (markdown) to this file, e.g. bench/RESULTS.md' },
  help: { default: false, help: 'this text' },
};

const options = parseOptions(process.argv.slice(2), spec);
if (options.help) {
  process.stdout.write(`usage: node_modules/.bin/node bench/http1/run.ts [options]\n${usage(spec)}\n`);
  process.exit(0);
}
const [quotaUs, periodUs] = options.quota.split('/').map(Number);
const quota: CpuQuota = { quotaUs, periodUs };
const log = (text: string): boolean => process.stderr.write(`${text}\n`);

const processes = new ProcessSet();
const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-http1-'));
// An interrupted run (SIGINT/SIGTERM) skips the finally below; its temp dir goes with the processes.
processes.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
const cgroups: CpuCgroup[] = [];
const running = new Map<string, RunningTarget>();
try {
  const facts = await machineFacts({
    nginx: [['nginx', '-v'], /nginx\/(\S+)/],
    wrk: [['wrk', '-v'], /wrk (\S+)/],
  });
  const cgroup = options.skip_equal_cpu ? ({ kind: 'none', reason: 'skipped (--skip-equal-cpu)' } as const) : await probeCgroupCpu();

  const origin = processes.spawn('origin', [process.execPath, path.join(projectRoot, 'bench', 'http1', 'origin.ts'), '--parent', String(process.pid)], { cpus: options.load_cpu });
  const originPort = Number((await origin.waitForLine((line) => line.startsWith('listening '), 10_000)).split(' ')[1]);
  const upstream = `127.0.0.1:${originPort}`;

  const all: Target[] = [
    directTarget(() => `http://${upstream}/`),
    switchyardTarget({ workers: 1, cpus: options.proxy_cpu }),
    nginxTarget(options.proxy_cpu),
    plainNodeTarget(options.proxy_cpu),
    switchyardTarget({ workers: 2 }),
    // what a user runs who changes nothing: access log on stdout (read by this process, as a log collector would)
    switchyardTarget({ workers: 1, cpus: options.proxy_cpu, defaults: true }),
  ];
  const wanted = options.only ? new Set(options.only.split(',')) : undefined;
  const targets = all.filter((target) => !wanted || wanted.has(target.key));
  const infos: TargetInfo[] = [];
  const context = { processes, dir, upstream, accessLog: options.access_log !== 'off' };

  for (const target of targets) {
    const info: TargetInfo = { key: target.key, label: target.label };
    infos.push(info);
    info.unavailable = await target.unavailable();
    if (info.unavailable) {
      log(`${target.label}: ${info.unavailable}`);
      continue;
    }
    try {
      const started = await target.start(context);
      running.set(target.key, started);
      info.check = await checkForwarding(started.url);
      const memories = await Promise.all((await started.workerPids()).map(readMemory));
      const largest = memories.reduce((best, memory) => (memory && memory.rss > (best?.rss ?? 0) ? memory : best), undefined as (typeof memories)[number]);
      info.idleRss = largest?.rss;
      info.idleAnon = largest?.anon;
      const primary = await started.primaryPid();
      const primaryMemory = primary === undefined ? undefined : await readMemory(primary);
      info.primaryIdleRss = primaryMemory?.rss;
      info.primaryIdleAnon = primaryMemory?.anon;
      log(`${target.label}: ${started.url} (${info.check})`);
    } catch (err) {
      info.unavailable = `not available: ${(err as Error).message.split('\n')[0].slice(0, 160)}`;
      log(`${target.label}: ${info.unavailable}`);
    }
  }

  const live = targets.filter((target) => running.has(target.key));
  const equalCpuTargets = cgroup.kind === 'none' ? [] : live.filter((target) => target.isProxy && target.cpus !== undefined);
  const runs = options.rounds * (live.length + equalCpuTargets.length);
  log(`${runs} runs of ${options.duration}s + warm-up: about ${Math.ceil((runs * (options.duration + 1) + live.length * (options.warmup + 1)) / 60)} min`);

  for (const target of live) {
    if (options.warmup > 0) await runWrk({ url: running.get(target.key)!.url, connections: options.connections, durationS: options.warmup, cpus: options.load_cpu });
  }

  const measurements: Measurement[] = [];
  const measure = async (round: number, mode: Mode, target: Target): Promise<void> => {
    let best = await measureOnce(round, mode, target);
    for (let retry = 0; retry < options.retries && best.foreignCores > options.noise_limit; retry++) {
      log(`  disturbed: other processes used ${best.foreignCores.toFixed(2)} cores; once more`);
      const again = await measureOnce(round, mode, target);
      if (again.foreignCores < best.foreignCores) best = again;
    }
    measurements.push(best);
  };
  const measureOnce = async (round: number, mode: Mode, target: Target): Promise<Measurement> => {
    const started = running.get(target.key)!;
    const pids = await started.pids();
    let group: CpuCgroup | undefined;
    let forgetCgroup: () => void = () => undefined;
    if (mode === 'equal-cpu' && cgroup.kind !== 'none') {
      group = await CpuCgroup.create(cgroup, target.key, quota);
      cgroups.push(group);
      const created = group;
      forgetCgroup = processes.onCleanup(() => created.removeNow());
      for (const pid of pids) await group.add(pid);
    }
    try {
      if (options.quiet_wait > 0) {
        const foreign = await waitForQuietMachine(options.noise_limit, options.quiet_wait * 1000, () => [...pids, origin.pid]);
        if (foreign > options.noise_limit) log(`  machine still busy (${foreign.toFixed(2)} cores used by other processes) after ${options.quiet_wait}s; running anyway`);
      }
      const meter = await foreignCpuMeter(() => [...pids, origin.pid]);
      const cpuBefore = await treeCpuSeconds(pids);
      const sampler = sampleRss(await started.workerPids());
      const result = await runWrk({ url: started.url, connections: options.connections, durationS: options.duration, cpus: options.load_cpu });
      const peak = await sampler.stop();
      const cpu = (await treeCpuSeconds(pids)) - cpuBefore;
      const { foreignCores } = await meter.stop();
      const measurement: Measurement = {
        round,
        mode,
        target: target.key,
        requestsPerSecond: result.requestsPerSecond,
        p50Ms: result.latencyMs.p50,
        p99Ms: result.latencyMs.p99,
        cpuUsPerRequest: pids.length > 0 && result.requests > 0 ? (cpu * 1e6) / result.requests : Number.NaN,
        peakRss: Math.max(peak.maxProcessHwm, peak.maxProcessRss),
        errors: result.socketErrors + result.badResponses,
        foreignCores,
      };
      log(
        `round ${round} ${mode.padEnd(9)} ${target.label.padEnd(22)} ${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  p99 ${result.latencyMs.p99.toFixed(2)} ms  ` +
          `errors ${measurement.errors}  other CPU ${foreignCores.toFixed(2)}`,
      );
      return measurement;
    } finally {
      await group?.remove();
      forgetCgroup();
      await truncateAccessLogs(dir);
    }
  };

  // The report is rewritten after every round, so a run cut short still leaves its completed rounds.
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of live) await measure(round, 'pinned', target);
    for (const target of equalCpuTargets) await measure(round, 'equal-cpu', target);
    const text = buildReport(round);
    if (round === options.rounds) process.stdout.write(text);
    if (options.results) await writeFile(path.resolve(options.results), text);
    if (options.raw) await writeFile(path.resolve(options.raw), `${JSON.stringify({ facts, targets: infos, measurements }, null, 1)}\n`);
  }

  function buildReport(roundsDone: number): string {
    const command = ['node_modules/.bin/node', 'bench/http1/run.ts', ...process.argv.slice(2)].join(' ');
    const equalNote = cgroup.kind === 'none' ? `equal CPU ${CpuCgroup.describe(cgroup, quota)}` : undefined;
    const disturbed = measurements.filter((m) => m.foreignCores > options.noise_limit).length;
    const foreign = median(measurements.map((m) => m.foreignCores));
    const report = [
      `## HTTP/1.1 proxy benchmark`,
      '',
      `- date: ${new Date().toISOString()}`,
      `- command: \`${command}\``,
      `- machine: ${describeMachine(facts)}`,
      `- load: wrk -t1 -c${options.connections} -d${options.duration}s --latency, ${roundsDone === options.rounds ? options.rounds : `${roundsDone} of ${options.rounds} (run cut short)`} interleaved rounds (medians), ${options.warmup}s warm-up per target; GET / → 5-byte body, keep-alive`,
      `- pinning: proxies on CPU ${options.proxy_cpu} (taskset), wrk and the origin (raw \`net\` responder, bench/http1/origin.ts) on CPU ${options.load_cpu}; "Switchyard 2 workers" is not pinned`,
      `- equal CPU: ${CpuCgroup.describe(cgroup, quota)}, each proxy (all its processes) in its own group, still pinned`,
      `- access logs: ${options.access_log === 'off' ? 'off' : 'one JSON line per request to a file (nginx: buffer=4k flush=1s; Switchyard: log.access_log, src/l7/access-log.ts)'}`,
      `- × nginx = median over rounds of (figure / nginx's figure in the same round and mode); CPU µs/req = user+sys CPU of the proxy's processes / requests; peak RSS per worker = largest traffic process (VmHWM; Switchyard's and nginx's workers, the plain Node proxy's one process); idle RSS per worker = the same after start-up and one request, with its anonymous part (RssAnon: without the node binary's shared file pages) in parentheses; primary idle RSS = Switchyard's primary (control plane) / nginx's master, which carry no traffic; errors = socket errors + non-2xx`,
      `- a run during which other processes on the machine used more than ${options.noise_limit} cores was repeated up to ${options.retries}× and the quieter kept (each run first waited up to ${options.quiet_wait}s for a quiet machine); a figure marked * in "req/s per round" was still disturbed and is left out of the medians when the target has clean runs (column "clean"); ratios use the rounds where both it and nginx ran clean`,
      `- quiet check: other processes used a median of ${foreign.toFixed(2)} cores during the kept runs; ${disturbed} of ${measurements.length} kept runs were disturbed (> ${options.noise_limit} cores)`,
      '',
      resultsTable(measurements, infos, [{ mode: 'pinned' }, { mode: 'equal-cpu', note: equalNote }], options.noise_limit),
      '',
      `Forwarding check (GET /__headers echoed by the origin): ${infos.map((info) => `${info.label}: ${info.unavailable ? 'not run' : info.check}`).join('; ')}`,
    ];
    const checks = targetChecks(measurements, infos, options.noise_limit);
    if (checks) report.push('', checks);
    return `${report.join('\n')}\n`;
  }
} finally {
  for (const started of running.values()) await started.stop().catch(() => undefined);
  await processes.stopAll();
  for (const group of cgroups) await group.remove();
  await rm(dir, { recursive: true, force: true });
}

/**
 * Empties the access logs between runs: both proxies append (O_APPEND), so truncation is safe, and it
 * keeps a long benchmark from writing gigabytes whose writeback would disturb the next run.
 */
async function truncateAccessLogs(root: string): Promise<void> {
  const files = await readdir(root, { recursive: true });
  for (const file of files) if (file.endsWith('access.log')) await truncate(path.join(root, file)).catch(() => undefined);
}

/** Asks the origin to echo the head it received through the proxy; names the forwarded headers missing. */
async function checkForwarding(url: string): Promise<string> {
  const response = await fetch(new URL('/__headers', url), { signal: AbortSignal.timeout(5000) });
  const head = await response.text();
  if (response.status !== 200) return `status ${response.status}`;
  if (!head.startsWith('GET /__headers')) return 'unexpected echo';
  const missing = ['x-forwarded-for', 'x-real-ip'].filter((name) => !new RegExp(`^${name}:`, 'im').test(head));
  return missing.length === 0 ? 'X-Forwarded-For and X-Real-IP set' : `missing ${missing.join(', ')}`;
}
