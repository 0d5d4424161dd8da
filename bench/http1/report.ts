// Turns the raw measurements of interleaved rounds into the tables of bench/RESULTS.md: medians per target
// and mode, each figure also as the median of its per-round ratio to nginx, and the targets checked.
import { formatCount, formatFixed, formatRatio, markdownTable, median, ratio, type Column } from '../common/index.ts';

export type Mode = 'pinned' | 'equal-cpu';

export interface Measurement {
  round: number;
  mode: Mode;
  target: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of the proxy's processes per request, µs (NaN for the origin alone). */
  cpuUsPerRequest: number;
  /** Largest VmHWM / VmRSS of one of the proxy's traffic processes (a worker) during the run, bytes. */
  peakRss: number;
  errors: number;
  /** Cores' worth of CPU used by processes outside the benchmark during the run. */
  foreignCores: number;
}

export interface TargetInfo {
  key: string;
  label: string;
  /** Why it did not run, when it did not. */
  unavailable?: string;
  idleRss?: number;
  /** Anonymous part of idleRss (without the shared pages of the binary). */
  idleAnon?: number;
  /** The same for the process that forked the workers (Switchyard's primary, nginx's master), when there is one. */
  primaryIdleRss?: number;
  primaryIdleAnon?: number;
  /** Result of the forwarded-header check. */
  check?: string;
}

const mb = (bytes: number | undefined): string => (bytes === undefined || !Number.isFinite(bytes) || bytes === 0 ? '–' : `${(bytes / 2 ** 20).toFixed(1)}`);

export interface Summary {
  target: string;
  mode: Mode;
  rps: number;
  rpsVsNginx: number;
  p99Ms: number;
  p99VsNginx: number;
  cpuUs: number;
  peakRss: number;
  errors: number;
  /** Clean runs / all runs, e.g. "3/5". */
  clean: string;
  /** Per-round req/s, with * on runs still disturbed by other processes. */
  rounds: string[];
}

/**
 * Medians over the runs of one target and mode. On a shared machine, runs disturbed by other processes
 * (foreignCores > noiseLimit) are left out whenever at least one clean run exists; ratios likewise use
 * the rounds where both this target and nginx ran clean, when there are any.
 */
export function summarize(measurements: readonly Measurement[], mode: Mode, target: string, noiseLimit = 0.15): Summary | undefined {
  const mine = measurements.filter((m) => m.mode === mode && m.target === target);
  if (mine.length === 0) return undefined;
  const isClean = (m: Measurement | undefined): boolean => m !== undefined && m.foreignCores <= noiseLimit;
  const cleanMine = mine.filter(isClean);
  const used = cleanMine.length > 0 ? cleanMine : mine;
  const nginxOf = (round: number): Measurement | undefined => measurements.find((m) => m.mode === mode && m.target === 'nginx' && m.round === round);
  const cleanPairs = mine.filter((m) => isClean(m) && isClean(nginxOf(m.round)));
  const paired = cleanPairs.length > 0 ? cleanPairs : mine;
  return {
    target,
    mode,
    rps: median(used.map((m) => m.requestsPerSecond)),
    rpsVsNginx: median(paired.map((m) => ratio(m.requestsPerSecond, nginxOf(m.round)?.requestsPerSecond))),
    p99Ms: median(used.map((m) => m.p99Ms)),
    p99VsNginx: median(paired.map((m) => ratio(m.p99Ms, nginxOf(m.round)?.p99Ms))),
    cpuUs: median(used.map((m) => m.cpuUsPerRequest)),
    peakRss: Math.max(...mine.map((m) => m.peakRss)),
    errors: mine.reduce((sum, m) => sum + m.errors, 0),
    clean: `${cleanMine.length}/${mine.length}`,
    rounds: mine.map((m) => `${formatCount(m.requestsPerSecond)}${isClean(m) ? '' : '*'}`),
  };
}

const columns: Column[] = [
  { title: 'target' },
  { title: 'mode' },
  { title: 'req/s', align: 'right' },
  { title: '× nginx', align: 'right' },
  { title: 'p99 ms', align: 'right' },
  { title: '× nginx', align: 'right' },
  { title: 'CPU µs/req', align: 'right' },
  { title: 'peak RSS per worker MB', align: 'right' },
  { title: 'idle RSS per worker (anon) MB', align: 'right' },
  { title: 'primary idle RSS (anon) MB', align: 'right' },
  { title: 'errors', align: 'right' },
  { title: 'clean', align: 'right' },
  { title: 'req/s per round' },
];

export function resultsTable(measurements: readonly Measurement[], targets: readonly TargetInfo[], modes: readonly { mode: Mode; note?: string }[], noiseLimit = 0.15): string {
  const rows: string[][] = [];
  for (const { mode, note } of modes) {
    for (const target of targets) {
      if (target.unavailable) {
        if (mode === 'pinned') rows.push([target.label, mode, target.unavailable, '', '', '', '', '', '', '', '', '', '']);
        continue;
      }
      const summary = summarize(measurements, mode, target.key, noiseLimit);
      if (!summary) {
        if (note && target.key !== 'direct' && !target.key.endsWith('w')) rows.push([target.label, mode, note, '', '', '', '', '', '', '', '', '', '']);
        continue;
      }
      rows.push([
        target.label,
        mode,
        formatCount(summary.rps),
        formatRatio(summary.rpsVsNginx),
        formatFixed(summary.p99Ms),
        formatRatio(summary.p99VsNginx),
        formatFixed(summary.cpuUs, 1),
        mb(summary.peakRss),
        target.idleRss ? `${mb(target.idleRss)} (${mb(target.idleAnon)})` : '–',
        target.primaryIdleRss ? `${mb(target.primaryIdleRss)} (${mb(target.primaryIdleAnon)})` : '–',
        String(summary.errors),
        summary.clean,
        summary.rounds.join(' '),
      ]);
    }
  }
  return markdownTable(columns, rows);
}

/** The performance targets, checked for Switchyard; empty when it did not run. */
export function targetChecks(measurements: readonly Measurement[], targets: readonly TargetInfo[], noiseLimit = 0.15): string {
  const sy = targets.find((t) => t.key === 'switchyard');
  if (!sy || sy.unavailable) return '';
  const pinned = summarize(measurements, 'pinned', 'switchyard', noiseLimit);
  const equal = summarize(measurements, 'equal-cpu', 'switchyard', noiseLimit);
  const twoWorkers = summarize(measurements, 'pinned', 'switchyard-2w', noiseLimit);
  const clean = (m: Measurement | undefined): boolean => m !== undefined && m.foreignCores <= noiseLimit;
  const pairs = measurements
    .filter((m) => m.mode === 'pinned' && m.target === 'switchyard-2w')
    .map((m) => [m, measurements.find((o) => o.mode === 'pinned' && o.target === 'switchyard' && o.round === m.round)] as const);
  const cleanPairs = pairs.filter(([a, b]) => clean(a) && clean(b));
  const scale = median((cleanPairs.length > 0 ? cleanPairs : pairs).map(([a, b]) => ratio(a.requestsPerSecond, b?.requestsPerSecond)));
  const line = (what: string, goal: string, value: number, pass: boolean | undefined, shown: string): string[] => [
    what,
    goal,
    Number.isFinite(value) ? shown : '–',
    pass === undefined || !Number.isFinite(value) ? 'not measured' : pass ? 'met' : 'MISSED',
  ];
  const rows = [
    line('req/s vs nginx, 1 worker, pinned', '≥ 0.80×', pinned?.rpsVsNginx ?? NaN, (pinned?.rpsVsNginx ?? 0) >= 0.8, formatRatio(pinned?.rpsVsNginx ?? NaN)),
    line('req/s vs nginx, 1 worker, equal CPU', '≥ 0.80×', equal?.rpsVsNginx ?? NaN, (equal?.rpsVsNginx ?? 0) >= 0.8, formatRatio(equal?.rpsVsNginx ?? NaN)),
    line('p99 vs nginx, pinned', '≤ 1.50×', pinned?.p99VsNginx ?? NaN, (pinned?.p99VsNginx ?? Infinity) <= 1.5, formatRatio(pinned?.p99VsNginx ?? NaN)),
    line('p99 vs nginx, equal CPU', '≤ 1.50×', equal?.p99VsNginx ?? NaN, (equal?.p99VsNginx ?? Infinity) <= 1.5, formatRatio(equal?.p99VsNginx ?? NaN)),
    line('peak RSS per worker under load', '≤ 100 MB', pinned?.peakRss ?? NaN, (pinned?.peakRss ?? Infinity) <= 100 * 2 ** 20, `${mb(pinned?.peakRss)} MB`),
    line('idle RSS per worker', '≤ 60 MB', sy.idleRss ?? NaN, (sy.idleRss ?? Infinity) <= 60 * 2 ** 20, `${mb(sy.idleRss)} MB`),
    // Here wrk and the Node origin hold CPU 1 for themselves, so a second worker can only take from them;
    // the target is measured by bench/http1/scaling.ts (nothing pinned, the cheapest origin).
    [
      '2 workers vs 1 worker, load pinned to CPU 1 (informative)',
      '–',
      twoWorkers && Number.isFinite(scale) ? formatRatio(scale) : '–',
      'target: bench/http1/scaling.ts',
    ],
  ];
  return markdownTable([{ title: 'target (issue 2)' }, { title: 'goal' }, { title: 'measured', align: 'right' }, { title: 'verdict' }], rows);
}
