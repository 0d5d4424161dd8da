// The engine: one immutable snapshot of what the server answers with (zones and the chain built from a
// config). Transports hand it raw messages; a reload builds a new engine and swaps it in, while requests
// already running finish on the engine they started with.
import type { Logger } from '../core/index.ts';
import { runChain, type ChainOutcome, type DnsHandler, type DnsRequest } from './chain.ts';
import { limitsFor, renderParseFailure, renderRcode, type ResponseLimits } from './render.ts';
import { RRClass, RRType, Rcode } from './wire/constants.ts';
import { parseQuery } from './wire/query.ts';
import type { ZoneSet } from './zone/zone-set.ts';

/** Counters for status(); plain numbers bumped on the hot path, owned by the server across reloads. */
export interface DnsCounters {
  queries: number;
  formerr: number;
  notimp: number;
  /** Dropped unanswered: too short, or a response (QR set). */
  dropped: number;
  /** AXFR/IXFR requests (refused). */
  transfers_refused: number;
  /** UDP responses over the rate limit (dropped or slipped as TC). */
  rate_limited: number;
  /** TCP connections closed at once: their client address was at `tcp.max_connections_per_client`. */
  tcp_refused: number;
  /** TCP connections closed to make room at `tcp.max_connections` (the least recently productive). */
  tcp_evicted: number;
  /** TCP connections closed by `tcp.io_timeout` or `tcp.idle_timeout`. */
  tcp_timeouts: number;
  /** DNS-over-TLS handshakes that failed (protocol version, no common ALPN or cipher, garbage). */
  tls_handshake_failures: number;
  /** Resolver queries over `resolver.client_limit` (refused or dropped). */
  client_limited: number;
  /** Stale cache answers sent (upstream failed or slower than `stale_answer_after`). */
  stale_answers: number;
  /** Background refreshes of popular entries near expiry. */
  prefetches: number;
  /** Resolver cache lookups answered fresh from the cache, and those that went on to the resolver. */
  cache_hits: number;
  cache_misses: number;
  /** Parsed queries by transport, then by qtype number (an object with integer keys: cheap to bump, JSON-able). */
  query_types: { udp: Record<number, number>; tcp: Record<number, number> };
  /** Responses sent by transport, indexed by rcode (the header's four bits). */
  response_codes: { udp: number[]; tcp: number[] };
}

export function newCounters(): DnsCounters {
  return { queries: 0, formerr: 0, notimp: 0, dropped: 0, transfers_refused: 0, rate_limited: 0, tcp_refused: 0, tcp_evicted: 0, tcp_timeouts: 0, tls_handshake_failures: 0, client_limited: 0, stale_answers: 0, prefetches: 0, cache_hits: 0, cache_misses: 0, query_types: { udp: {}, tcp: {} }, response_codes: { udp: new Array<number>(16).fill(0), tcp: new Array<number>(16).fill(0) } };
}

export class DnsEngine {
  readonly zones: ZoneSet;
  private readonly handlers: readonly DnsHandler[];
  private readonly maxUdp: number;
  private readonly logger: Logger;
  private readonly counters: DnsCounters;
  private readonly tcpLimits: ResponseLimits;
  private readonly classicLimits: ResponseLimits;
  private readonly ednsLimits: ResponseLimits;

  constructor(zones: ZoneSet, handlers: readonly DnsHandler[], maxUdp: number, logger: Logger, counters: DnsCounters) {
    this.zones = zones;
    this.handlers = handlers;
    this.maxUdp = maxUdp;
    this.logger = logger;
    this.counters = counters;
    this.tcpLimits = { max: 65535, advertise: maxUdp };
    this.classicLimits = { max: 512, advertise: maxUdp };
    this.ednsLimits = { max: maxUdp, advertise: maxUdp };
  }

  /** Answers one message; never throws. 'drop' means send nothing. Counts the response's rcode. */
  answer(message: Buffer, transport: 'udp' | 'tcp', clientAddress: string): ChainOutcome | Promise<ChainOutcome> {
    const outcome = this.respond(message, transport, clientAddress);
    if (outcome instanceof Promise) return outcome.then((settled) => this.countRcode(settled, transport));
    return this.countRcode(outcome, transport);
  }

  private countRcode(outcome: ChainOutcome, transport: 'udp' | 'tcp'): ChainOutcome {
    if (outcome !== 'drop' && outcome.length >= 4) this.counters.response_codes[transport][outcome[3] & 0x0f]++;
    return outcome;
  }

  private respond(message: Buffer, transport: 'udp' | 'tcp', clientAddress: string): ChainOutcome | Promise<ChainOutcome> {
    const counters = this.counters;
    counters.queries++;
    const query = parseQuery(message);
    if (typeof query !== 'object') {
      if (query === 'drop') {
        counters.dropped++;
        return 'drop';
      }
      if (query === Rcode.FORMERR) counters.formerr++;
      else counters.notimp++;
      return renderParseFailure(message, query);
    }
    // shared limit objects for the common cases, so most queries allocate none
    const limits =
      transport === 'tcp' ? this.tcpLimits : query.ednsVersion < 0 ? this.classicLimits : query.ednsSize >= this.maxUdp ? this.ednsLimits : limitsFor(query, transport, this.maxUdp);
    if (query.ednsVersion > 0) return renderRcode(query, Rcode.BADVERS, limits);
    if (query.qclass !== RRClass.IN) {
      counters.notimp++;
      return renderRcode(query, Rcode.NOTIMP, limits);
    }
    const qtype = query.qtype;
    const types = counters.query_types[transport];
    types[qtype] = (types[qtype] ?? 0) + 1;
    if (qtype === RRType.AXFR || qtype === RRType.IXFR) {
      counters.transfers_refused++;
      return renderRcode(query, Rcode.REFUSED, limits);
    }
    if (qtype === RRType.MAILA || qtype === RRType.MAILB) {
      counters.notimp++;
      return renderRcode(query, Rcode.NOTIMP, limits);
    }
    const request: DnsRequest = { query, transport, clientAddress, limits, mayRecurse: false, poolAnswer: undefined };
    return runChain(this.handlers, request, this.logger);
  }
}
