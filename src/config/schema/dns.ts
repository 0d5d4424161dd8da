// dns: the authoritative server, its zones, and the caching resolver for allowed clients.
import { z } from 'zod';
import { cidr, duration, hostPort, positiveInt, size } from './common.ts';
import { STALE_ANSWER_AFTER_DEFAULT, listensBeyondLoopback } from '../../core/index.ts';
import { certificateSchema } from './listeners.ts';

/** "udp://127.0.0.1:5353" | "tcp://127.0.0.1:5353" | "tls://127.0.0.1:853" (DNS over TLS, RFC 7858) */
const dnsListen = z.string().transform((text, ctx) => {
  const match = /^(udp|tcp|tls):\/\/(.+)$/.exec(text);
  const address = match ? hostPort.safeParse(match[2]) : undefined;
  if (!match || !address?.success) {
    ctx.addIssue({ code: 'custom', message: `expected udp://host:port, tcp://host:port or tls://host:port, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return { transport: match[1] as 'udp' | 'tcp' | 'tls', ...address.data };
});

/** Certificates for tls:// listeners, in the format of an https listener's `tls:` (ALPN is always "dot"). */
export const dnsTlsSchema = z.strictObject({
  min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  certificates: z.array(certificateSchema).default([]),
  self_signed: z.boolean().default(false),
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

const cacheDefaults = { max_entries: 100_000, max_size: 200 * 1024 * 1024, prefetch_hits: 10, min_ttl: 0, max_ttl: 86_400 };

/** RFC 8767 5 suggests 1.8 s for the client-response timer. */
export { STALE_ANSWER_AFTER_DEFAULT, listensBeyondLoopback };

const clientLimitSchema = z.strictObject({
  queries_per_second: positiveInt.default(1000),
  /** What a query over the limit gets: REFUSED, or nothing. */
  over: z.enum(['refuse', 'drop']).default('refuse'),
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
        max_entries: positiveInt.default(cacheDefaults.max_entries),
        /** Bytes the cache may hold (entries, keys and bookkeeping as measured), evicting by bytes too. */
        max_size: size.default(cacheDefaults.max_size),
        /** How long past expiry an answer may still be served when upstreams fail (RFC 8767). */
        serve_stale: duration.optional(),
        /** With serve_stale: answer from a stale entry when the upstream has not answered within this (default 1.8 s). */
        stale_answer_after: duration.optional(),
        /** Refresh an entry hit in the last tenth of its TTL once it has had this many hits (0: never). */
        prefetch_hits: z.number().int().min(0).default(cacheDefaults.prefetch_hits),
        min_ttl: z.number().int().min(0).default(cacheDefaults.min_ttl),
        max_ttl: z.number().int().min(0).default(cacheDefaults.max_ttl),
      })
      .superRefine((cache, ctx) => {
        if (cache.stale_answer_after !== undefined && cache.serve_stale === undefined) {
          ctx.addIssue({ code: 'custom', path: ['stale_answer_after'], message: 'expected stale_answer_after only with serve_stale (there is no stale answer without it)' });
        }
      })
      .default(cacheDefaults),
    /** Per upstream query. */
    timeout: duration.default(2000),
    /**
     * Queries per second per client address that reach the resolver (cache hits and misses alike; our own
     * zones are not counted); beyond it the query is refused (REFUSED) or dropped. `false` turns it off.
     */
    client_limit: z
      .union([z.literal(false), clientLimitSchema], { error: 'expected false (off) or a mapping of queries_per_second and over' })
      .default(clientLimitSchema.parse({})),
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
    /** Certificates for the tls:// listen addresses (required with them, refused without them). */
    tls: dnsTlsSchema.optional(),
  })
  .superRefine((dns, ctx) => {
    const dot = dns.listen.some((entry) => entry.transport === 'tls');
    if (dot && !dns.tls) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'expected tls settings (certificates or self_signed: true) for a tls:// listen address' });
    if (!dot && dns.tls) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'expected no tls settings without a tls:// listen address' });
    if (dns.tls && dns.tls.certificates.length === 0 && !dns.tls.self_signed) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'expected certificates or self_signed: true' });
    }
    const defaults = dns.tls?.certificates.filter((certificate) => certificate.default).length ?? 0;
    if (defaults > 1) ctx.addIssue({ code: 'custom', path: ['tls', 'certificates'], message: `expected at most one default certificate, got ${defaults}` });
  })
  .transform(({ rate_limit, ...dns }) => ({
    ...dns,
    rate_limit: rate_limit === false ? undefined : (rate_limit ?? (listensBeyondLoopback(dns.listen) ? rateLimitSchema.parse({}) : undefined)),
  }));

export type DnsConfig = z.output<typeof dnsSchema>;
export type ZoneConfig = z.output<typeof zoneSchema>;
export type RecordConfig = z.output<typeof recordSchema>;
export type ResolverConfig = z.output<typeof resolverSchema>;
export type DnsTlsConfig = z.output<typeof dnsTlsSchema>;
export type DnsRateLimitConfig = z.output<typeof rateLimitSchema>;
