// switchyard ping: ICMP echo through the native addon (an unprivileged ICMP datagram socket when
// net.ipv4.ping_group_range allows it, else a raw socket), with iputils-style RTT statistics.
import { randomInt } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { DiagError } from './errors.ts';
import { ms3, rttStats, type RttStats } from './format.ts';
import { loadIcmpAddon, probeFailure, type ProbeResult } from './icmp-addon.ts';
import { resolveHost } from './resolve-host.ts';

export interface PingOptions {
  host: string;
  count: number;
  intervalMs: number;
  /** Wait for each reply (ping -W). */
  timeoutMs: number;
  size: number;
  family?: 4 | 6;
  /** Called as each probe finishes (replies may arrive out of order when the interval is short). */
  onStart?: (start: PingStart) => void;
  onProbe?: (probe: PingProbe) => void;
}

export interface PingProbe extends ProbeResult {
  sequence: number;
}

export interface PingStart {
  host: string;
  address: string;
  family: 4 | 6;
  size: number;
}

export interface PingResult extends PingStart {
  /** dgram or raw: which kind of ICMP socket the system allowed. */
  socket: string;
  probes: PingProbe[];
  stats: RttStats;
}

export async function ping(options: PingOptions): Promise<PingResult> {
  const addon = loadIcmpAddon('ICMP');
  const { address, family } = await resolveHost(options.host, options.family);
  const start: PingStart = { host: options.host, address, family, size: options.size };
  // the header waits for the first answer so that a refused socket prints only the one-line failure
  let announced = false;
  const identifier = randomInt(1, 65536);
  const pending: Promise<PingProbe>[] = [];
  let fatal: PingProbe | undefined;
  for (let sequence = 1; sequence <= options.count && !fatal; sequence++) {
    const sent = performance.now();
    const probe = addon.echo({ address, family, sequence, identifier, timeoutMs: options.timeoutMs, size: options.size }).then((result) => {
      const done = { ...result, sequence };
      if (done.status === 'error') fatal ??= done;
      else {
        if (!announced) options.onStart?.(start);
        announced = true;
        options.onProbe?.(done);
      }
      return done;
    });
    pending.push(probe);
    // the first probe tells whether ICMP is allowed at all: wait for it before sending more
    if (sequence === 1) await probe;
    const left = options.intervalMs - (performance.now() - sent);
    if (sequence < options.count && left > 0 && !fatal) await delay(left);
  }
  const probes = await Promise.all(pending);
  if (fatal) throw await probeFailure('ICMP', fatal, address);
  const rtts = probes.filter((probe) => probe.status === 'reply').map((probe) => probe.rttMs);
  return { ...start, socket: probes[0]?.mode ?? '', probes, stats: rttStats(probes.length, rtts) };
}

export const pingHeader = (start: PingStart): string => `PING ${start.host} (${start.address}) ${start.size} data bytes\n`;

export function probeLine(probe: PingProbe): string {
  switch (probe.status) {
    case 'reply':
      return `${probe.bytes} bytes from ${probe.from}: icmp_seq=${probe.sequence}${probe.ttl >= 0 ? ` ttl=${probe.ttl}` : ''} time=${ms3(probe.rttMs)}\n`;
    case 'time_exceeded':
      return `From ${probe.from} icmp_seq=${probe.sequence} Time to live exceeded\n`;
    case 'unreachable':
      return `From ${probe.from} icmp_seq=${probe.sequence} Destination unreachable (code ${probe.icmpCode})\n`;
    default:
      return `no reply for icmp_seq=${probe.sequence}\n`;
  }
}

export function renderPingSummary(result: PingResult): string {
  const s = result.stats;
  const lines = [
    '',
    `--- ${result.host} ping statistics (${result.socket === 'raw' ? 'raw ICMP socket' : 'unprivileged ICMP datagram socket'}) ---`,
    `${s.sent} packets transmitted, ${s.received} received, ${s.lossPercent}% packet loss`,
  ];
  if (s.received > 0) lines.push(`rtt min/avg/max/mdev = ${s.min.toFixed(3)}/${s.avg.toFixed(3)}/${s.max.toFixed(3)}/${s.mdev.toFixed(3)} ms`);
  return `${lines.join('\n')}\n`;
}

export function pingFailure(result: PingResult): string | undefined {
  if (result.stats.received > 0) return undefined;
  const error = result.probes.find((probe) => probe.status === 'unreachable' || probe.status === 'time_exceeded');
  if (error) return new DiagError('ICMP', `${result.address}: ${error.status === 'unreachable' ? 'destination unreachable' : 'time to live exceeded'} (reported by ${error.from})`).message;
  return new DiagError('ICMP', `no echo reply from ${result.address} (${result.stats.sent} sent, 100% loss); if ICMP is filtered, try switchyard tcping ${result.address}:PORT`).message;
}
