// pools: named upstream groups shared by L7 routes, L4 listeners and DNS `pool:` records.
import { z } from 'zod';
import { duration, hostPort, positiveInt } from './common.ts';

export const balancePolicies = ['round_robin', 'weighted_round_robin', 'least_conn', 'ip_hash', 'consistent_hash'] as const;
export type BalancePolicy = (typeof balancePolicies)[number];

/** header:X-User | cookie:sid | path | ip */
const hashKey = z.string().regex(/^(header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|cookie:[^\s;=]+|path|ip)$/, {
  message: 'expected header:NAME, cookie:NAME, path or ip',
});

export const backendSchema = z.strictObject({
  address: hostPort,
  weight: positiveInt.max(1000).default(1),
  /** Kept in the pool but given no new requests (starts drained). */
  drain: z.boolean().default(false),
});

export const healthSchema = z
  .strictObject({
    type: z.enum(['tcp', 'http', 'grpc', 'dns']).default('tcp'),
    method: z.string().regex(/^[A-Z]+$/).default('GET'),
    path: z.string().startsWith('/').default('/healthz'),
    host: z.string().optional(),
    /** "200-399" or "200" or "200,204" */
    expect: z.string().regex(/^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$/, { message: 'expected a status or range like 200-399' }).default('200-399'),
    body_contains: z.string().optional(),
    /** grpc: the service asked about in grpc.health.v1 Check; empty = the whole server. */
    service: z.string().optional(),
    /** dns: the name asked over UDP (the answer must be NOERROR) and its type. */
    query: z.string().regex(/^(\.|([A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?)$/, { message: 'expected a domain name like example.test.' }).optional(),
    qtype: z.enum(['A', 'AAAA', 'NS', 'SOA', 'CNAME', 'MX', 'TXT', 'SRV', 'PTR', 'CAA']).default('A'),
    interval: duration.default(2000),
    timeout: duration.default(1000),
    rise: positiveInt.default(2),
    fall: positiveInt.default(3),
  })
  .refine((health) => health.type !== 'dns' || health.query !== undefined, { path: ['query'], message: 'expected a query (the name to ask) for a health check of type: dns' });

export const passiveSchema = z.strictObject({
  consecutive_failures: positiveInt.default(5),
  eject_for: duration.default(30_000),
  max_eject_for: duration.default(300_000),
  max_ejected_percent: z.number().min(0).max(100).default(50),
});

export const retryOnValues = ['connect_error', 'reset', 'timeout', '502', '503', '504'] as const;

export const retriesSchema = z.strictObject({
  attempts: z.number().int().min(0).max(10).default(2),
  on: z.array(z.union([z.enum(retryOnValues), z.number().int().min(500).max(599).transform(String)])).default(['connect_error', 'reset']),
  methods: z.array(z.string().regex(/^[A-Z]+$/)).default(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']),
  budget_percent: z.number().min(0).max(100).default(20),
  per_try_timeout: duration.optional(),
});

export const keepaliveSchema = z.strictObject({
  /**
   * Idle connections kept per backend: `auto` keeps what recent demand used (the surplus, idle all the
   * time since the last purge, is closed half at a time each second), or a fixed cap.
   */
  max_idle: z.union([z.literal('auto'), z.number().int().min(0)]).default('auto'),
  idle_timeout: duration.default(4000),
});

/** Requests waiting for a connection to a backend at max_connections: FIFO, at most `size`, each at most `timeout` (then 503). */
export const connectionQueueSchema = z.strictObject({
  size: z.number().int().min(0).default(1024),
  timeout: duration.default(1000),
});

export const upstreamTlsSchema = z.strictObject({
  ca: z.string().optional(),
  servername: z.string().optional(),
  verify: z.boolean().default(true),
});

export const poolSchema = z.strictObject({
  balance: z.enum(balancePolicies).default('round_robin'),
  hash_key: hashKey.optional(),
  backends: z
    .array(backendSchema)
    .min(1, { message: 'expected at least one backend' })
    // a backend's id is its address: two entries with one address would share health and counts
    .superRefine((backends, ctx) => {
      const seen = new Set<string>();
      backends.forEach((backend, index) => {
        const id = `${backend.address.host}:${backend.address.port}`;
        if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [index, 'address'], message: `expected a unique address, got ${id} twice` });
        seen.add(id);
      });
    }),
  health: healthSchema.optional(),
  passive: passiveSchema.optional(),
  retries: retriesSchema.default(retriesSchema.parse({})),
  keepalive: keepaliveSchema.default(keepaliveSchema.parse({})),
  /**
   * Open upstream connections per backend, per worker, for HTTP/1.1 upstreams; a request beyond it waits
   * in connection_queue, then gets 503. 1024 (Envoy's circuit-breaker default): far above what request buffering leaves busy
   * (a connection is held only while the origin works, never while a client uploads), yet a bound.
   */
  max_connections: positiveInt.default(1024),
  connection_queue: connectionQueueSchema.default(connectionQueueSchema.parse({})),
  slow_start: duration.optional(),
  protocol: z.enum(['http1', 'h2c', 'h2', 'grpc']).default('http1'),
  tls: upstreamTlsSchema.optional(),
  drain_timeout: duration.default(30_000),
});

export type PoolConfig = z.output<typeof poolSchema>;
export type BackendConfig = z.output<typeof backendSchema>;
export type HealthConfig = z.output<typeof healthSchema>;
export type PassiveConfig = z.output<typeof passiveSchema>;
export type RetriesConfig = z.output<typeof retriesSchema>;
