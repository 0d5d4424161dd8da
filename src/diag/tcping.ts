// switchyard tcping: repeated TCP handshakes to one address, timed from connect() to the SYN-ACK being
// accepted (the view of an L4 health check), with min/avg/max and loss.
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { describeSocketError } from './errors.ts';
import { joinHostPort, ms3, rttStats, type RttStats } from './format.ts';
import { resolveHost } from './resolve-host.ts';

export interface TcpingOptions {
  host: string;
  port: number;
  count: number;
  intervalMs: number;
  timeoutMs: number;
  /** Called once per attempt as it finishes, in order (for streaming output). */
  onAttempt?: (attempt: TcpingAttempt) => void;
}

export interface TcpingAttempt {
  seq: number;
  ok: boolean;
  timeMs: number;
  /** Why the handshake failed: refused, timeout, unreachable… */
  error?: string;
  code?: string;
}

export interface TcpingResult {
  host: string;
  address: string;
  port: number;
  attempts: TcpingAttempt[];
  stats: RttStats;
}

export function connectOnce(address: string, port: number, timeoutMs: number, seq: number): Promise<TcpingAttempt> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ host: address, port, noDelay: true });
    const finish = (attempt: Omit<TcpingAttempt, 'seq' | 'timeMs'>): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ seq, timeMs: performance.now() - started, ...attempt });
    };
    const timer = setTimeout(() => finish({ ok: false, error: `no answer within ${timeoutMs} ms (timeout)`, code: 'TIMEOUT' }), timeoutMs);
    socket.once('connect', () => finish({ ok: true }));
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ ok: false, error: describeSocketError(err), code: err.code }));
  });
}

export async function tcping(options: TcpingOptions): Promise<TcpingResult> {
  const { address } = await resolveHost(options.host);
  const attempts: TcpingAttempt[] = [];
  for (let seq = 1; seq <= options.count; seq++) {
    const started = performance.now();
    const attempt = await connectOnce(address, options.port, options.timeoutMs, seq);
    attempts.push(attempt);
    options.onAttempt?.(attempt);
    const left = options.intervalMs - (performance.now() - started);
    if (seq < options.count && left > 0) await delay(left);
  }
  const rtts = attempts.filter((attempt) => attempt.ok).map((attempt) => attempt.timeMs);
  return { host: options.host, address, port: options.port, attempts, stats: rttStats(attempts.length, rtts) };
}

export function attemptLine(result: { address: string; port: number }, attempt: TcpingAttempt): string {
  const where = joinHostPort(result.address, result.port);
  return attempt.ok
    ? `connected to ${where}: seq=${attempt.seq} time=${ms3(attempt.timeMs)}\n`
    : `failed to connect to ${where}: seq=${attempt.seq} ${attempt.error} after ${ms3(attempt.timeMs)}\n`;
}

export function renderTcpingSummary(result: TcpingResult): string {
  const s = result.stats;
  const lines = [
    '',
    `--- ${joinHostPort(result.host, result.port)} tcping statistics ---`,
    `${s.sent} handshakes attempted, ${s.received} connected, ${s.lossPercent}% loss`,
  ];
  if (s.received > 0) lines.push(`connect min/avg/max/mdev = ${s.min.toFixed(3)}/${s.avg.toFixed(3)}/${s.max.toFixed(3)}/${s.mdev.toFixed(3)} ms`);
  return `${lines.join('\n')}\n`;
}
