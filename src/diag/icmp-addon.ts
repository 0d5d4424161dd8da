// Loads the native ICMP addon (native/icmp.c, built from source by `npm install`) and words its errors.
// The addon resolves every probe with a plain result object; nothing in it throws past argument checks.
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { DiagError, type DiagLayer } from './errors.ts';

export type ProbeStatus = 'reply' | 'timeout' | 'time_exceeded' | 'unreachable' | 'error';

export interface ProbeResult {
  status: ProbeStatus;
  /** dgram: unprivileged ICMP socket; raw: raw socket (CAP_NET_RAW); udp: UDP probe with IP_RECVERR. */
  mode: 'dgram' | 'raw' | 'udp' | '';
  /** Who answered: the destination, or the router that sent the ICMP error. */
  from: string;
  rttMs: number;
  /** TTL (hop limit) of the reply, -1 when unknown. */
  ttl: number;
  bytes: number;
  icmpType: number;
  icmpCode: number;
  errno: number;
  syscall: string;
}

export interface EchoRequest {
  address: string;
  family: 4 | 6;
  sequence: number;
  identifier: number;
  timeoutMs: number;
  size: number;
  ttl?: number;
}

export interface UdpProbeRequest {
  address: string;
  family: 4 | 6;
  port: number;
  ttl: number;
  timeoutMs: number;
}

export interface IcmpAddon {
  echo(request: EchoRequest): Promise<ProbeResult>;
  udpProbe(request: UdpProbeRequest): Promise<ProbeResult>;
}

const addonPath = './native/build/Release/switchyard_icmp.node';

export function loadIcmpAddon(layer: DiagLayer): IcmpAddon {
  try {
    return createRequire(import.meta.url)(addonPath) as IcmpAddon;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'is not built' : `cannot be loaded (${(err as Error).message.split('\n')[0]})`;
    throw new DiagError(layer, `the ICMP addon (src/diag/native) ${why}: run npm install with python3, make and a C compiler present, or use switchyard tcping HOST:PORT`);
  }
}

const errnoNames: Record<number, string> = {
  1: 'EPERM', 13: 'EACCES', 22: 'EINVAL', 90: 'EMSGSIZE', 97: 'EAFNOSUPPORT', 99: 'EADDRNOTAVAIL', 101: 'ENETUNREACH', 113: 'EHOSTUNREACH', 93: 'EPROTONOSUPPORT',
};

export const errnoName = (errno: number): string => errnoNames[errno] ?? `errno ${errno}`;

/** The one line for a probe that could not even be sent, with a way out when it is a permission problem. */
export async function probeFailure(layer: DiagLayer, result: ProbeResult, target: string): Promise<DiagError> {
  const name = errnoName(result.errno);
  if (result.syscall === 'socket' && (name === 'EACCES' || name === 'EPERM')) {
    const range = await readFile('/proc/sys/net/ipv4/ping_group_range', 'utf8').then((text) => text.trim().replace(/\s+/, '-'), () => 'unknown');
    return new DiagError(layer, `ICMP sockets are not permitted here: net.ipv4.ping_group_range (${range}) excludes this user's groups and raw sockets need CAP_NET_RAW; try switchyard tcping ${target}:PORT`);
  }
  if (name === 'ENETUNREACH') return new DiagError(layer, `no route to ${target}: network unreachable (${result.syscall})`);
  if (name === 'EHOSTUNREACH') return new DiagError(layer, `${target}: host unreachable (${result.syscall})`);
  return new DiagError(layer, `${result.syscall} failed for ${target}: ${name}`);
}
