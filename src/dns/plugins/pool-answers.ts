// pool-answers link: A/AAAA records with `pool: NAME` answer the addresses of the pool's healthy backends
// (all of them when none is healthy, so clients still get somewhere), with the record's own TTL. Weighted
// pools answer in weighted-random order, so clients that take the first address spread by weight.
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { DnsHandler, DnsRequest } from '../chain.ts';
import { finishResponse, responseWriter } from '../render.ts';
import { Flag, HEADER_SIZE, RRClass, RRType } from '../wire/constants.ts';

export interface PoolAddress {
  host: string;
  port: number;
  weight: number;
}

/** Where pool answers come from; the lead adapts the pool registry and health checker to it. */
export interface PoolAddressSource {
  /** Healthy backends of a pool; undefined when the pool does not exist. */
  healthyAddresses(pool: string): PoolAddress[] | undefined;
  /** Every backend of the pool, the answer when none is healthy. Without it an all-down pool answers empty. */
  allAddresses?(pool: string): PoolAddress[] | undefined;
  /** Called when health or membership changes. */
  onChange?(listener: () => void): void;
}

/** Weighted random order (Efraimidis–Spirakis): each address draws u^(1/w); larger draws first. */
export function weightedOrder(addresses: readonly PoolAddress[], random: () => number): PoolAddress[] {
  const keyed = addresses.map((address) => ({ address, key: Math.pow(random(), 1 / Math.max(address.weight, 1e-9)) }));
  keyed.sort((a, b) => b.key - a.key);
  return keyed.map((entry) => entry.address);
}

export function poolAnswersLink(source: PoolAddressSource | undefined, random: () => number): DnsHandler {
  return {
    name: 'pool-answers',
    handle(request: DnsRequest) {
      const spec = request.poolAnswer;
      if (spec === undefined) return undefined;
      const query = request.query;
      const family = spec.type === RRType.A ? isIPv4 : isIPv6;
      // "none healthy" is judged per address family: an AAAA answer must not go empty because of IPv4 backends
      let wanted = (source?.healthyAddresses(spec.pool) ?? []).filter((address) => family(address.host));
      if (wanted.length === 0) wanted = (source?.allAddresses?.(spec.pool) ?? []).filter((address) => family(address.host));
      const unique = [...new Map(wanted.map((address) => [address.host, address])).values()];
      const writer = responseWriter(query);
      spec.chain.forEach((record, index) => writer.record(record, index === 0 ? HEADER_SIZE : undefined));
      for (const address of weightedOrder(unique, random)) {
        const rdata = Buffer.from(ipaddr.parse(address.host).toByteArray());
        const record = { owner: spec.owner, type: spec.type, class: RRClass.IN, ttl: spec.ttl, rdata };
        writer.record(record, spec.ownerIsQuestion ? HEADER_SIZE : undefined);
      }
      return finishResponse(query, writer, Flag.AA, [spec.chain.length + unique.length, 0, 0], request.limits);
    },
  };
}
