// acl link: decides whether the client may use the resolver and the cache (`resolver.allow`). It never
// answers; names in our zones are answered to everyone, other names are REFUSED at the end of the chain
// for clients outside the list, so the server is never an open resolver.
import ipaddr from 'ipaddr.js';
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
  // verdicts per address, so the hot path does one Map lookup instead of parsing the address; bounded by
  // starting over when full (a plain Map is cheaper per query than an LRU's bookkeeping)
  const verdicts = new Map<string, boolean>();
  return {
    name: 'acl',
    handle(request: DnsRequest) {
      if (allow.length === 0) return undefined;
      let verdict = verdicts.get(request.clientAddress);
      if (verdict === undefined) {
        verdict = clientMatches(request.clientAddress, allow);
        if (verdicts.size >= 10_000) verdicts.clear();
        verdicts.set(request.clientAddress, verdict);
      }
      request.mayRecurse = verdict;
      return undefined;
    },
  };
}
