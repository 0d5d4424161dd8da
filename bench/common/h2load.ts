// h2load (Debian's nghttp2-client): run it bounded in time, optionally pinned, and read its totals and, with
// a per-request log file, the p99 latency.
import { readFile } from 'node:fs/promises';
import { runBounded } from './processes.ts';

export interface H2loadResult {
  requestsPerSecond: number;
  /** 99th percentile of the per-request durations (ms), NaN without a log file. */
  p99: number;
  /** Requests completed. */
  done: number;
  /** Every request succeeded and some completed. */
  ok: boolean;
  /** What h2load printed, for error messages. */
  text: string;
}

export interface H2loadOptions {
  /** taskset CPU list for h2load itself. */
  cpus?: string;
  timeoutMs: number;
  /** --log-file: one line per request ("start µs, status, duration µs"), read for the p99. */
  logFile?: string;
}

/** Runs `h2load ARGS`; "finished in 8.00s, 41234.50 req/s, …" and the log's durations give the figures. */
export async function runH2load(args: readonly string[], options: H2loadOptions): Promise<H2loadResult> {
  const command = ['h2load', ...args, ...(options.logFile ? [`--log-file=${options.logFile}`] : [])];
  const { stdout, stderr } = await runBounded(options.cpus ? ['taskset', '-c', options.cpus, ...command] : command, options.timeoutMs);
  const text = stdout + stderr;
  const requestsPerSecond = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(text)?.[1] ?? 0);
  const failed = Number(/(\d+) failed/.exec(text)?.[1] ?? 1);
  const done = Number(/requests: \d+ total, \d+ started, (\d+) done/.exec(text)?.[1] ?? 0);
  let p99 = Number.NaN;
  if (options.logFile) {
    const durations = (await readFile(options.logFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((line) => Number(line.split('\t')[2]))
      .sort((a, b) => a - b);
    if (durations.length > 0) p99 = durations[Math.floor(durations.length * 0.99)] / 1000;
  }
  return { requestsPerSecond, p99, done, ok: failed === 0 && requestsPerSecond > 0, text };
}
