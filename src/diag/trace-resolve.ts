// The DNS phase of `switchyard trace`: the URL's host to one address, through a chosen DNS server (with the
// CNAME chain and TTLs it answered), the system resolver, a --resolve override, or a literal address.
import dns from 'node:dns/promises';
import net from 'node:net';
import type { RecordType } from 'dns-packet';
import { exchange } from './dns-client.ts';
import { fqdn, rcodeOf } from './dns-format.ts';
import { DiagError } from './errors.ts';
import { joinHostPort } from './format.ts';

export interface DnsStep {
  name: string;
  type: string;
  ttl: number;
  data: string;
}

export interface ResolveOutcome {
  address: string;
  /** literal: the URL names an address; override: --resolve; system: getaddrinfo; server: --dns. */
  via: 'literal' | 'override' | 'system' | 'server';
  server?: string;
  /** CNAMEs then the address record, as the server answered (only with --dns). */
  chain: DnsStep[];
  queries: number;
}

const MAX_CHAIN = 8;

export async function resolveViaServer(host: string, server: string, port: number, timeoutMs: number): Promise<ResolveOutcome> {
  const where = joinHostPort(server, port);
  const chain: DnsStep[] = [];
  let name = fqdn(host);
  let queries = 0;
  for (const type of ['A', 'AAAA'] as RecordType[]) {
    name = fqdn(host);
    chain.length = 0;
    for (let hop = 0; hop < MAX_CHAIN; hop++) {
      queries++;
      const { response } = await exchange({ name, type, server, port, timeoutMs, tries: 2 });
      const rcode = rcodeOf(response);
      if (rcode !== 'NOERROR') throw new DiagError('DNS', `cannot resolve ${host}: ${rcode} from ${where}${name !== fqdn(host) ? ` (for ${name})` : ''}`);
      // follow the chain in the answer's order, starting from the name asked
      let current = name;
      for (let step = 0; step < MAX_CHAIN; step++) {
        const cname = (response.answers ?? []).find((record) => record.type === 'CNAME' && fqdn(record.name) === current);
        if (!cname) break;
        const target = fqdn(String((cname as any).data));
        chain.push({ name: current, type: 'CNAME', ttl: (cname as any).ttl ?? 0, data: target });
        current = target;
      }
      const found = (response.answers ?? []).find((record) => record.type === type && fqdn(record.name) === current);
      if (found) {
        chain.push({ name: current, type, ttl: (found as any).ttl ?? 0, data: String((found as any).data) });
        return { address: String((found as any).data), via: 'server', server: where, chain, queries };
      }
      if (current === name) break; // no data of this type: try the next type
      name = current; // the server gave the CNAME without its target: ask for the target
    }
  }
  throw new DiagError('DNS', `cannot resolve ${host}: ${where} has no A or AAAA record for it${chain.length ? ` (CNAME chain ends at ${chain.at(-1)!.data})` : ''}`);
}

export async function resolveForTrace(host: string, options: { dns?: { host: string; port: number }; override?: string; timeoutMs: number }): Promise<ResolveOutcome> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (net.isIP(bare)) return { address: bare, via: 'literal', chain: [], queries: 0 };
  if (options.override) return { address: options.override, via: 'override', chain: [], queries: 0 };
  if (options.dns) return resolveViaServer(bare, options.dns.host, options.dns.port, options.timeoutMs);
  try {
    const found = await dns.lookup(bare);
    return { address: found.address, via: 'system', chain: [], queries: 1 };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DiagError('DNS', `cannot resolve ${bare}: ${code === 'ENOTFOUND' ? 'no such host (system resolver)' : `${code ?? err} (system resolver)`}`, err);
  }
}
