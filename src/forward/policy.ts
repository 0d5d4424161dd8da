// The forward proxy's access policy, compiled once per config: who may use the proxy (client CIDRs),
// where to (host patterns, ports, CONNECT ports) and which addresses a destination may resolve to (SSRF).
// Every question is answered without allocating, except the first sight of an address (CidrSet memo).
import ipaddr from 'ipaddr.js';
import type { Cidr, ForwardProxyAllowConfig } from '../config/index.ts';
import { CidrSet } from '../listener/index.ts';

/** Clients of a forward proxy whose config names none: this host only. */
const LOOPBACK: readonly Cidr[] = [ipaddr.parseCIDR('127.0.0.0/8'), ipaddr.parseCIDR('::1/128')];

const GLOBAL_V6 = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number];
const DOCUMENTATION_V6 = ipaddr.parseCIDR('2001:db8::/32') as [ipaddr.IPv6, number];

type Ranges = readonly (readonly [number, number])[];

export class ForwardPolicy {
  private readonly clients: CidrSet;
  /** Exact host names and literals (lower-case, no trailing dot, IPv6 in brackets). */
  private readonly exact: ReadonlySet<string>;
  /** "*.example.test" as ".example.test": a host ending with it (and longer) matches. */
  private readonly suffixes: readonly string[];
  private readonly anyHost: boolean;
  private readonly ports: Ranges;
  private readonly connectPorts: Ranges;
  private readonly destinations: CidrSet | undefined;
  private readonly privateAllowed: boolean;
  /** The config gave no allow.clients: loopback only (`check` and start warn). */
  readonly loopbackOnly: boolean;

  constructor(allow: ForwardProxyAllowConfig | undefined) {
    this.loopbackOnly = allow?.clients === undefined;
    this.clients = new CidrSet(allow?.clients ?? LOOPBACK);
    const hosts = allow?.hosts ?? ['*'];
    this.anyHost = hosts.includes('*');
    this.exact = new Set(hosts.filter((host) => !host.startsWith('*')));
    this.suffixes = hosts.filter((host) => host.startsWith('*.')).map((host) => host.slice(1));
    this.ports = allow?.ports ?? [[80, 80]];
    this.connectPorts = allow?.connect_ports ?? [[443, 443]];
    this.destinations = allow?.destinations ? new CidrSet(allow.destinations) : undefined;
    this.privateAllowed = allow?.private ?? false;
  }

  client(address: string): boolean {
    return this.clients.contains(address);
  }

  /** `host`: lower-case, no trailing dot, IPv6 literals in brackets (as hostnameOf gives it). */
  host(host: string): boolean {
    if (this.anyHost || this.exact.has(host)) return true;
    for (const suffix of this.suffixes) if (host.length > suffix.length && host.endsWith(suffix)) return true;
    return false;
  }

  port(port: number, connect: boolean): boolean {
    for (const [low, high] of connect ? this.connectPorts : this.ports) if (port >= low && port <= high) return true;
    return false;
  }

  /** The address the proxy is about to connect to (after resolution): SSRF rule. */
  destination(address: string): boolean {
    if (this.destinations !== undefined) return this.destinations.contains(address);
    return this.privateAllowed || isPublicUnicast(address);
  }
}

/**
 * True for a global unicast address. Loopback, private (RFC 1918, fc00::/7), link-local, carrier-grade
 * NAT, multicast, unspecified, reserved and documentation ranges are not; an IPv4-mapped IPv6 address is
 * judged as the IPv4 address it carries, so ::ffff:127.0.0.1 is loopback.
 */
export function isPublicUnicast(text: string): boolean {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.process(text);
  } catch {
    return false;
  }
  if (address.range() !== 'unicast') return false;
  // ipaddr.js calls 2001:db8::/32 (documentation) unicast; NAT64 and 6to4 (other ranges) carry an IPv4 address
  if (address.kind() === 'ipv6') return (address as ipaddr.IPv6).match(GLOBAL_V6) && !(address as ipaddr.IPv6).match(DOCUMENTATION_V6);
  return true;
}
