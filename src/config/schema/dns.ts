// dns: the authoritative server, its zones, and the caching resolver for allowed clients.
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { cidr, duration, hostPort, positiveInt } from './common.ts';

/** "udp://127.0.0.1:5353" | "tcp://127.0.0.1:5353" */
const dnsListen = z.string().transform((text, ctx) => {
  const match = /^(udp|tcp):\/\/(.+)$/.exec(text);
  const address = match ? hostPort.safeParse(match[2]) : undefined;
  if (!match || !address?.success) {
    ctx.addIssue({ code: 'custom', message: `expected udp://host:port or tcp://host:port, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return { transport: match[1] as 'udp' | 'tcp', ...address.data };
});

const domainName = z.string().regex(/^(@|\*|[A-Za-z0-9_*-]+(\.[A-Za-z0-9_-]+)*\.?|\.)$/, { message: 'expected a domain name' });

export const recordTypes = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'SRV', 'CAA', 'PTR', 'SOA'] as const;

export const recordSchema = z
  .strictObject({
    name: domainName,
    type: z.enum(recordTypes),
    ttl: z.number().int().min(0).max(2_147_483_647).optional(),
    /** The record's data in master-file presentation form (for MX/SRV the target only). */
    value: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    /** A/AAAA answered with the healthy backends of this pool. */
    pool: z.string().optional(),
    priority: z.number().int().min(0).max(65535).optional(),
    weight: z.number().int().min(0).max(65535).optional(),
    port: z.number().int().min(0).max(65535).optional(),
  })
  .superRefine((record, ctx) => {
    if ((record.value === undefined) === (record.pool === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of value or pool' });
    }
    if (record.pool !== undefined && record.type !== 'A' && record.type !== 'AAAA') {
      ctx.addIssue({ code: 'custom', path: ['pool'], message: `expected pool only on A or AAAA records, got ${record.type}` });
    }
    if (record.type === 'MX' && record.priority === undefined) {
      ctx.addIssue({ code: 'custom', path: ['priority'], message: 'expected a priority for an MX record' });
    }
  });

export const soaSchema = z.strictObject({
  mname: domainName,
  rname: domainName,
  serial: z.number().int().min(0).optional(),
  refresh: z.number().int().min(0).default(3600),
  retry: z.number().int().min(0).default(600),
  expire: z.number().int().min(0).default(604800),
  negative_ttl: z.number().int().min(0).default(300),
});

export const zoneSchema = z
  .strictObject({
    origin: domainName,
    file: z.string().optional(),
    ttl: z.number().int().min(0).default(3600),
    soa: soaSchema.optional(),
    records: z.array(recordSchema).default([]),
  })
  .superRefine((zone, ctx) => {
    if (!zone.file && !zone.soa) {
      ctx.addIssue({ code: 'custom', path: ['soa'], message: 'expected a soa (or a zone file holding one)' });
    }
  });

export const resolverSchema = z
  .strictObject({
    /** Clients allowed to recurse; empty means nobody (no open resolver). */
    allow: z.array(cidr).default([]),
    /** Upstream resolvers to forward to, tried in order. */
    forward: z.array(hostPort).optional(),
    /** Root hints file (master-file format) for iterative resolution; relative to the config file. */
    root_hints: z.string().optional(),
    cache: z
      .strictObject({
        max_entries: positiveInt.default(100_000),
        /** How long past expiry an answer may still be served when upstreams fail (RFC 8767). */
        serve_stale: duration.optional(),
        min_ttl: z.number().int().min(0).default(0),
        max_ttl: z.number().int().min(0).default(86_400),
      })
      .default({ max_entries: 100_000, min_ttl: 0, max_ttl: 86_400 }),
    /** Per upstream query. */
    timeout: duration.default(2000),
  })
  .superRefine((resolver, ctx) => {
    const forwarding = (resolver.forward?.length ?? 0) > 0;
    if (forwarding === (resolver.root_hints !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of forward (upstream resolvers) or root_hints (iterative resolution)' });
    }
  });

export const rateLimitSchema = z.strictObject({
  responses_per_second: positiveInt.default(20),
  /** Every Nth limited response is sent truncated (TC) instead of dropped, so real clients retry over TCP. */
  slip: z.number().int().min(0).default(2),
  ipv4_prefix: z.number().int().min(8).max(32).default(24),
  ipv6_prefix: z.number().int().min(32).max(128).default(56),
});

type DnsListen = z.output<typeof dnsListen>;

/** True when a listen address is reachable from beyond this host: not a loopback address or `localhost`. */
export function listensBeyondLoopback(listen: readonly DnsListen[]): boolean {
  return listen.some(({ host }) => {
    if (host === 'localhost') return false;
    try {
      return ipaddr.process(host).range() !== 'loopback';
    } catch {
      return true; // a host name: it may resolve to anything
    }
  });
}

const tcpDefaults = { idle_timeout: 10_000, io_timeout: 2000, max_connections: 1000, max_connections_per_client: 10, max_in_flight: 32 };

export const dnsSchema = z
  .strictObject({
    listen: z.array(dnsListen).min(1).default(['udp://127.0.0.1:5353', 'tcp://127.0.0.1:5353'].map((text) => dnsListen.parse(text))),
    zones: z.array(zoneSchema).default([]),
    resolver: resolverSchema.optional(),
    /**
     * Response rate limiting (UDP). `false` turns it off. Unset, it is on with the defaults when any listen
     * address is beyond loopback (an open UDP port is an amplifier: a 1 KB TXT answer to a 40-byte spoofed
     * query), and off when DNS listens on loopback only.
     */
    rate_limit: z.union([z.literal(false), rateLimitSchema], { error: 'expected false (off) or a mapping of rate limit settings' }).optional(),
    /**
     * Largest UDP answer we send to an EDNS0 client (its advertised size is capped by this) and the size we
     * advertise; clients without EDNS0 get at most 512 bytes. 1232 avoids IP fragmentation (DNS flag day 2020).
     */
    max_udp_size: z.number().int().min(512).max(4096).default(1232),
    /** DNS over TCP limits: what one client may hold of the process that serves DNS (docs/dns.md). */
    tcp: z
      .strictObject({
        /** With nothing in progress, a connection closes this long after its last query or answer. */
        idle_timeout: duration.default(tcpDefaults.idle_timeout),
        /** A query must arrive whole, and an answer drain, within this time of its first byte. */
        io_timeout: duration.default(tcpDefaults.io_timeout),
        /** Open connections in total; at the cap a new one closes the least recently productive. */
        max_connections: positiveInt.default(tcpDefaults.max_connections),
        /** Open connections per client address; more are closed at once. */
        max_connections_per_client: positiveInt.default(tcpDefaults.max_connections_per_client),
        /** Queries per connection waiting for an asynchronous (resolver) answer; reading pauses at it. */
        max_in_flight: positiveInt.default(tcpDefaults.max_in_flight),
      })
      .default(tcpDefaults),
  })
  .transform(({ rate_limit, ...dns }) => ({
    ...dns,
    rate_limit: rate_limit === false ? undefined : (rate_limit ?? (listensBeyondLoopback(dns.listen) ? rateLimitSchema.parse({}) : undefined)),
  }));

export type DnsConfig = z.output<typeof dnsSchema>;
export type ZoneConfig = z.output<typeof zoneSchema>;
export type RecordConfig = z.output<typeof recordSchema>;
export type ResolverConfig = z.output<typeof resolverSchema>;
export type DnsRateLimitConfig = z.output<typeof rateLimitSchema>;
