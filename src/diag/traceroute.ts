// switchyard traceroute: UDP probes to high ports with TTL 1, 2, 3…; each router on the way answers with
// ICMP time exceeded and the destination with port unreachable. The native addon reads those answers
// from the socket's error queue (IP_RECVERR), so no privilege is needed. The probes of one hop go out
// together (each on its own socket and port), hops one after another.
import { DiagError } from './errors.ts';
import { ms3 } from './format.ts';
import { loadIcmpAddon, probeFailure, type ProbeResult } from './icmp-addon.ts';
import { resolveHost } from './resolve-host.ts';

export interface TracerouteOptions {
  host: string;
  maxHops: number;
  probes: number;
  waitMs: number;
  /** First destination port (traceroute's 33434); each probe uses the next one. */
  basePort?: number;
  family?: 4 | 6;
  onStart?: (address: string) => void;
  onHop?: (hop: Hop) => void;
}

export interface HopProbe {
  status: ProbeResult['status'];
  from?: string;
  rttMs?: number;
  /** traceroute's annotations: !H host, !N network, !P protocol, !X prohibited unreachable. */
  note?: string;
}

export interface Hop {
  ttl: number;
  probes: HopProbe[];
}

export interface TracerouteResult {
  host: string;
  address: string;
  maxHops: number;
  hops: Hop[];
  reached: boolean;
}

const v4Notes: Record<number, string> = { 0: '!N', 1: '!H', 2: '!P', 9: '!X', 10: '!X', 13: '!X' };
const v6Notes: Record<number, string> = { 0: '!N', 1: '!X', 3: '!H' };

function noteOf(result: ProbeResult, family: 4 | 6): string | undefined {
  if (result.status !== 'unreachable') return undefined;
  const portUnreachable = family === 4 ? result.icmpCode === 3 : result.icmpCode === 4;
  if (portUnreachable) return undefined;
  return (family === 4 ? v4Notes : v6Notes)[result.icmpCode] ?? `!<${result.icmpCode}>`;
}

export async function traceroute(options: TracerouteOptions): Promise<TracerouteResult> {
  const addon = loadIcmpAddon('UDP');
  const { address, family } = await resolveHost(options.host, options.family);
  options.onStart?.(address);
  const hops: Hop[] = [];
  let reached = false;
  let stop = false;
  const basePort = options.basePort ?? 33434;
  for (let ttl = 1; ttl <= options.maxHops && !stop; ttl++) {
    const results = await Promise.all(Array.from({ length: options.probes }, (_, index) =>
      addon.udpProbe({ address, family, ttl, port: basePort + (ttl - 1) * options.probes + index, timeoutMs: options.waitMs })));
    const failed = results.find((result) => result.status === 'error');
    if (failed) throw await probeFailure('UDP', failed, address);
    const hop: Hop = {
      ttl,
      probes: results.map((result) => result.status === 'timeout'
        ? { status: 'timeout' }
        : { status: result.status, from: result.from, rttMs: result.rttMs, note: noteOf(result, family) }),
    };
    hops.push(hop);
    options.onHop?.(hop);
    for (const probe of hop.probes) {
      if (probe.status === 'reply' || (probe.status === 'unreachable' && probe.from === address)) reached = true;
      if (probe.status === 'unreachable') stop = true;
    }
  }
  return { host: options.host, address, maxHops: options.maxHops, hops, reached };
}

export const tracerouteHeader = (host: string, address: string, maxHops: number): string =>
  `traceroute to ${host} (${address}), ${maxHops} hops max, UDP probes\n`;

/** " 2  198.18.2.1  0.081 ms  0.052 ms  0.049 ms" or " 3  * * *"; a new address starts a new group. */
export function hopLine(hop: Hop): string {
  let text = `${String(hop.ttl).padStart(2)} `;
  let last: string | undefined;
  for (const probe of hop.probes) {
    if (probe.status === 'timeout') {
      text += ' *';
      continue;
    }
    if (probe.from !== last) text += ` ${probe.from}`;
    last = probe.from;
    text += `  ${ms3(probe.rttMs ?? 0)}${probe.note ? ` ${probe.note}` : ''}`;
  }
  return `${text}\n`;
}

export const renderTraceroute = (result: TracerouteResult): string => (result.reached ? '' : `(destination ${result.address} not reached)\n`);

export function tracerouteFailure(result: TracerouteResult): string | undefined {
  if (result.reached) return undefined;
  const blocked = result.hops.at(-1)?.probes.find((probe) => probe.note);
  if (blocked) return new DiagError('UDP', `${result.address} unreachable: ${blocked.note} from ${blocked.from} at hop ${result.hops.length}`).message;
  return new DiagError('UDP', `${result.address} not reached within ${result.maxHops} hops`).message;
}
