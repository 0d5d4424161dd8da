// Shared output helpers: milliseconds, RTT statistics, host:port parsing and text bars.
import net from 'node:net';

/** "0.213 ms" style used by ping, tcping and traceroute (three decimals like iputils). */
export const ms3 = (value: number): string => `${value.toFixed(3)} ms`;

export interface RttStats {
  sent: number;
  received: number;
  lossPercent: number;
  min: number;
  avg: number;
  max: number;
  /** Mean deviation as iputils ping reports it: sqrt(mean(x²) - mean(x)²). */
  mdev: number;
}

export function rttStats(sent: number, rtts: readonly number[]): RttStats {
  const received = rtts.length;
  const lossPercent = sent === 0 ? 0 : Math.round(((sent - received) / sent) * 1000) / 10;
  if (received === 0) return { sent, received, lossPercent, min: 0, avg: 0, max: 0, mdev: 0 };
  let sum = 0;
  let squares = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const rtt of rtts) {
    sum += rtt;
    squares += rtt * rtt;
    if (rtt < min) min = rtt;
    if (rtt > max) max = rtt;
  }
  const avg = sum / received;
  const mdev = Math.sqrt(Math.max(0, squares / received - avg * avg));
  return { sent, received, lossPercent, min, avg, max, mdev };
}

export interface HostPort {
  host: string;
  port: number | undefined;
}

/** "host", "host:port", "1.2.3.4:53", "[::1]:53" or a bare "::1". */
export function parseHostPort(text: string): HostPort | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return withPort(bracketed[1], bracketed[2]);
  if (net.isIPv6(text)) return { host: text, port: undefined };
  const colon = text.lastIndexOf(':');
  if (colon < 0) return text ? { host: text, port: undefined } : undefined;
  return withPort(text.slice(0, colon), text.slice(colon + 1));
}

function withPort(host: string, port: string | undefined): HostPort | undefined {
  if (!host) return undefined;
  if (port === undefined) return { host, port: undefined };
  const value = Number(port);
  if (!/^\d+$/.test(port) || value < 1 || value > 65535) return undefined;
  return { host, port: value };
}

/** "1.2.3.4:53" or "[::1]:53". */
export const joinHostPort = (host: string, port: number): string => (net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`);

/** A bar of `width` cells with [start, start+length) filled, scaled to `total`; at least one cell when length > 0. */
export function bar(start: number, length: number, total: number, width: number, fill = '█'): string {
  if (total <= 0) return ' '.repeat(width);
  const from = Math.min(width - 1, Math.floor((start / total) * width));
  const cells = Math.max(length > 0 ? 1 : 0, Math.round((length / total) * width));
  const used = Math.min(cells, width - from);
  return ' '.repeat(from) + fill.repeat(used) + ' '.repeat(width - from - used);
}
