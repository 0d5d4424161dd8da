// Iterative resolution (RFC 1034 5.3.3): start at the closest known delegation (the root hints at first),
// follow referrals down (glue when given; otherwise resolve the name servers' addresses first), chase
// CNAMEs across zones, and stop at an answer, NXDOMAIN or NODATA. Every resolution has a budget of
// upstream queries and a bound on nesting, so a hostile or broken hierarchy cannot make it spin.
import { LatencyHistogram, timed } from './latency.ts';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../core/index.ts';
import { Flag, RRType, Rcode } from '../wire/constants.ts';
import { isSubdomain, keyOf, wireOfKey } from '../wire/name.ts';
import type { ResourceRecord } from '../wire/writer.ts';
import { cachedRecords, rcodeOf, type AnswerCache } from './cache.ts';
import type { Resolution, Resolver } from './index.ts';
import type { DecodedMessage } from './message.ts';
import { queryUpstream, UpstreamError, type UpstreamServer } from './upstream.ts';

interface Delegation {
  key: string;
  servers: UpstreamServer[];
  expires: number;
}

interface Budget {
  queries: number;
}

const MAX_QUERIES = 64;
const MAX_DEPTH = 4;
const MAX_CNAMES = 8;
const MAX_REFERRALS = 16;

export class IterativeResolver implements Resolver {
  private readonly roots: UpstreamServer[];
  private readonly timeout: number;
  private readonly clock: Clock;
  /** Zone cuts learnt from referrals, so the next name under them skips the walk from the root. */
  private readonly delegations = new LRUCache<string, Delegation>({ max: 10_000 });
  upstreamQueries = 0;
  readonly upstreamLatency = new LatencyHistogram();

  private readonly cache: AnswerCache;

  constructor(roots: UpstreamServer[], timeout: number, clock: Clock, cache: AnswerCache) {
    this.roots = roots;
    this.timeout = timeout;
    this.clock = clock;
    this.cache = cache;
  }

  resolve(name: Buffer, qtype: number): Promise<Resolution> {
    return this.resolveChain(name, qtype, { queries: 0 }, 0);
  }

  close(): void {
    this.delegations.clear();
  }

  /** Resolves a name, restarting at each CNAME target the answers lead to (the chain is kept in order). */
  private async resolveChain(name: Buffer, qtype: number, budget: Budget, depth: number): Promise<Resolution> {
    const chain: ResourceRecord[] = [];
    let target = keyOf(name);
    for (let hop = 0; hop <= MAX_CNAMES; hop++) {
      // CNAME targets and name-server names are often known already: use (and fill) the answer cache
      const cached = hop > 0 || depth > 0 ? this.fromCache(target, qtype) : undefined;
      const result = cached ?? (await this.walk(wireOfKey(target), qtype, budget, depth));
      if (!cached && (hop > 0 || depth > 0) && result.rcode !== Rcode.SERVFAIL) this.cache.set(target, qtype, result.rcode, result.answer, result.authority);
      chain.push(...result.answer);
      if (result.rcode !== Rcode.NOERROR || qtype === RRType.CNAME || qtype === RRType.ANY) return { ...result, answer: chain };
      let current = target;
      for (let link = 0; link <= MAX_CNAMES; link++) {
        const cname = result.answer.find((record) => record.type === RRType.CNAME && keyOf(record.owner) === current);
        if (!cname) break;
        current = keyOf(cname.rdata);
      }
      const done = current === target || result.answer.some((record) => record.type === qtype && keyOf(record.owner) === current);
      if (done) return { ...result, answer: chain };
      target = current;
    }
    return { rcode: Rcode.SERVFAIL, answer: chain, authority: [] };
  }

  private fromCache(key: string, qtype: number): Resolution | undefined {
    const hit = this.cache.get(key, qtype);
    if (hit === undefined || hit.stale) return undefined;
    return { rcode: rcodeOf(hit.entry), ...cachedRecords(hit.entry, key, qtype, hit.age) };
  }

  /** One name from the closest known cut down to an authoritative answer. */
  private async walk(name: Buffer, qtype: number, budget: Budget, depth: number): Promise<Resolution> {
    const key = keyOf(name);
    let zone = this.closestDelegation(key);
    for (let step = 0; step < MAX_REFERRALS; step++) {
      const response = await this.ask(zone.servers, name, qtype, budget);
      if (response.rcode === Rcode.NXDOMAIN) return { rcode: Rcode.NXDOMAIN, answer: inZone(response.answer, zone.key), authority: inZone(response.authority, zone.key) };
      if (response.rcode !== Rcode.NOERROR) return { rcode: Rcode.SERVFAIL, answer: [], authority: [] };
      if (response.answer.length > 0) return { rcode: Rcode.NOERROR, answer: inZone(response.answer, zone.key), authority: [] };
      const ns = response.authority.filter((record) => record.type === RRType.NS);
      const child = ns.length > 0 ? keyOf(ns[0].owner) : undefined;
      const isReferral = child !== undefined && (response.flags & Flag.AA) === 0 && child !== zone.key && isSubdomain(child, zone.key) && isSubdomain(key, child);
      if (!isReferral) return { rcode: Rcode.NOERROR, answer: [], authority: inZone(response.authority, zone.key) };
      const servers = await this.serversFor(child, ns, response, zone.key, budget, depth);
      if (servers.length === 0) return { rcode: Rcode.SERVFAIL, answer: [], authority: [] };
      zone = { key: child, servers, expires: this.clock.now() + Math.min(...ns.map((record) => record.ttl)) * 1000 };
      this.delegations.set(child, zone);
    }
    return { rcode: Rcode.SERVFAIL, answer: [], authority: [] };
  }

  /** Addresses of a child zone's name servers: glue within the parent's bailiwick, else resolved. */
  private async serversFor(child: string, ns: ResourceRecord[], response: DecodedMessage, parent: string, budget: Budget, depth: number): Promise<UpstreamServer[]> {
    const names = ns.filter((record) => keyOf(record.owner) === child).map((record) => keyOf(record.rdata));
    const glue = response.additional.filter((record) => record.type === RRType.A && names.includes(keyOf(record.owner)) && isSubdomain(keyOf(record.owner), parent));
    if (glue.length > 0) return glue.map((record) => ({ host: [...record.rdata].join('.'), port: 53 }));
    if (depth >= MAX_DEPTH) return [];
    for (const nsName of names) {
      if (isSubdomain(nsName, child)) continue; // in-bailiwick without glue cannot be resolved
      const result = await this.resolveChain(wireOfKey(nsName), RRType.A, budget, depth + 1);
      const addresses = result.answer.filter((record) => record.type === RRType.A);
      if (addresses.length > 0) return addresses.map((record) => ({ host: [...record.rdata].join('.'), port: 53 }));
    }
    return [];
  }

  private closestDelegation(key: string): Delegation {
    const now = this.clock.now();
    for (let i = 0; i < key.length; i += key.charCodeAt(i) + 1) {
      const known = this.delegations.get(key.slice(i));
      if (known && known.expires > now) return known;
    }
    return { key: '', servers: this.roots, expires: Infinity };
  }

  /** Asks the zone's servers in random order until one answers; counts against the budget. */
  private async ask(servers: readonly UpstreamServer[], name: Buffer, qtype: number, budget: Budget): Promise<DecodedMessage> {
    const order = [...servers].sort(() => Math.random() - 0.5);
    let lastError: unknown;
    for (const server of order) {
      if (++budget.queries > MAX_QUERIES) throw new UpstreamError('resolver: query budget exhausted');
      this.upstreamQueries++;
      try {
        return await timed(this.upstreamLatency, queryUpstream(server, { name, type: qtype, recursionDesired: false, timeout: this.timeout }));
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError ?? new UpstreamError('resolver: no name servers');
  }
}

/** Records a zone's servers may speak for: those at or below the zone (RFC 2181 5.4.1 bailiwick). */
function inZone(records: ResourceRecord[], zoneKey: string): ResourceRecord[] {
  return records.filter((record) => isSubdomain(keyOf(record.owner), zoneKey));
}
