// An address or CIDR in text ("10.0.0.0/8", "::1") parsed once: shared by the config schema and the parts
// of the data path that read CIDR lists at build time, without loading the schema (zod) into workers.
import ipaddr from 'ipaddr.js';

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** The range of `text` (a bare address is its own /32 or /128); throws on anything else. */
export function parseCidr(text: string): Cidr {
  if (text.includes('/')) return ipaddr.parseCIDR(text);
  const address = ipaddr.parse(text);
  return [address, address.kind() === 'ipv4' ? 32 : 128];
}
