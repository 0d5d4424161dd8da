// wrk (Debian's wrk 4.x): run it bounded in time, pinned to given CPUs, and parse its --latency report.
import { runBounded } from './processes.ts';

export interface WrkResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  /** Latency percentiles from --latency, in milliseconds. */
  latencyMs: { p50: number; p75: number; p90: number; p99: number };
  /** connect + read + write + timeout socket errors. */
  socketErrors: number;
  /** Responses wrk counted as "Non-2xx or 3xx". */
  badResponses: number;
}

const timeUnits: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "805.33us" | "1.50ms" | "2.00s" → milliseconds. */
export function parseWrkTime(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`wrk: cannot read time ${JSON.stringify(text)}`);
  return Number(match[1]) * timeUnits[match[2]];
}

/** Parses the text wrk prints; throws when a figure the benchmark needs is missing. */
export function parseWrk(text: string): WrkResult {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h),/.exec(text);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!total || !rps) throw new Error(`wrk: no totals in output: ${text.slice(0, 500)}`);
  const percentile = (p: string): number => {
    const match = new RegExp(`^\\s+${p}%\\s+(\\S+)\\s*$`, 'm').exec(text);
    return match ? parseWrkTime(match[1]) : Number.NaN;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    seconds: parseWrkTime(`${total[2]}${total[3]}`) / 1000,
    requestsPerSecond: Number(rps[1]),
    latencyMs: { p50: percentile('50'), p75: percentile('75'), p90: percentile('90'), p99: percentile('99') },
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    badResponses: bad ? Number(bad[1]) : 0,
  };
}

export interface WrkOptions {
  url: string;
  connections: number;
  durationS: number;
  threads?: number;
  /** taskset CPU list for wrk itself, e.g. "1". */
  cpus?: string;
}

/** Runs wrk once; killed if it overruns its duration by 15 s. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const threads = options.threads ?? 1;
  const args = ['wrk', '--latency', '-t', String(threads), '-c', String(options.connections), '-d', `${options.durationS}s`, '--timeout', '5s', options.url];
  const argv = options.cpus ? ['taskset', '-c', options.cpus, ...args] : args;
  const { stdout, stderr, code } = await runBounded(argv, (options.durationS + 15) * 1000);
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${stderr.slice(0, 500)}`);
  return parseWrk(stdout);
}
