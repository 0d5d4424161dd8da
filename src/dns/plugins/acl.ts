// acl link: decides whether the client may use the resolver and the cache (`resolver.allow`). It never
// answers; names in our zones are answered to everyone, other names are REFUSED at the end of the chain
// for clients outside the list, so the server is never an open resolver.
import ipaddr from 'ipaddr.js';
import { LRUCache } from 'lru-cache';
import type { Cidr } from '../../config/index.ts';
import type { DnsHandler, DnsRequest } from '../chain.ts';

export function clientMatches(address: string, ranges: readonly Cidr[]): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return false;
  }
  for (const [range, bits] of ranges) {
    if (parsed.kind() === range.kind() && parsed.match(range as never, bits)) return true;
  }
  return false;
}

export function aclLink(allow: readonly Cidr[]): DnsHandler {
  // verdicts per address, so the hot path does one lookup instead of parsing the address
  const verdicts = new LRUCache<string, boolean>({ max: 10_000 });
  return {
    name: 'acl',
    handle(request: DnsRequest) {
      if (allow.length === 0) return undefined;
      let verdict = verdicts.get(request.clientAddress);
      if (verdict === undefined) {
        verdict = clientMatches(request.clientAddress, allow);
        verdicts.set(request.clientAddress, verdict);
      }
      request.mayRecurse = verdict;
      return undefined;
    },
  };
}
