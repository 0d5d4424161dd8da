// listeners: addresses Switchyard accepts on, with their protocol, TLS, limits and routes.
import { z } from 'zod';
import { cidr, duration, hostPort, positiveInt, size } from './common.ts';
import { middlewareSchema } from './middleware.ts';
import { compressEncodings, type CompressEncoding } from './compress.ts';
import { cacheOrderProblem } from './cache.ts';

export const listenerProtocols = ['http', 'https', 'h2c', 'tcp', 'udp', 'forward_proxy'] as const;
export type ListenerProtocol = (typeof listenerProtocols)[number];

const httpMethod = z.string().regex(/^[A-Z]+$/, { message: 'expected an upper-case method like GET' });

/** host: exact ("api.example.test") or one-label wildcard ("*.example.test"); case-insensitive. */
const hostPattern = z
  .string()
  .regex(/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/, { message: 'expected a host name or *.suffix' })
  .transform((host) => host.toLowerCase().replace(/\.$/, ''));

const regexText = z.string().transform((text, ctx) => {
  try {
    new RegExp(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `expected a valid regular expression: ${(err as Error).message}` });
    return z.NEVER;
  }
  return text;
});

export const matchSchema = z.strictObject({
  host: z.union([hostPattern, z.array(hostPattern).min(1)]).optional(),
  path_prefix: z.string().startsWith('/').optional(),
  path: z.string().startsWith('/').optional(),
  path_regex: regexText.optional(),
  methods: z.array(httpMethod).min(1).optional(),
  /** header name → exact value, or { regex } / { present: true } */
  headers: z
    .record(
      z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/).transform((name) => name.toLowerCase()),
      z.union([z.string(), z.strictObject({ regex: regexText }), z.strictObject({ present: z.boolean() })]),
    )
    .optional(),
});

export const redirectSchema = z.strictObject({
  /** Absolute target URL; the request path is appended when keep_path is true. */
  to: z.string().optional(),
  scheme: z.enum(['http', 'https']).optional(),
  host: z.string().optional(),
  port: z.number().int().min(1).max(65535).optional(),
  status: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).default(308),
  keep_path: z.boolean().default(true),
});

/** Fields a fixed response's `headers` may not set: the edge frames the body itself, `content_type` types it. */
const framedByTheEdge: Readonly<Record<string, string>> = {
  'content-type': 'set content_type instead',
  'content-length': 'the length of body is sent',
  'transfer-encoding': 'the length of body is sent',
  connection: 'connection handling is the listener’s',
};

export const respondSchema = z
  .strictObject({
    status: z.number().int().min(100).max(599).default(200),
    body: z.string().default(''),
    content_type: z.string().default('text/plain; charset=utf-8'),
    headers: z.record(z.string(), z.string()).default({}),
  })
  .superRefine((respond, ctx) => {
    for (const name of Object.keys(respond.headers)) {
      const why = framedByTheEdge[name.toLowerCase()];
      if (why !== undefined) ctx.addIssue({ code: 'custom', path: ['headers', name], message: `expected a header the edge does not set itself, got ${name} (${why})` });
    }
  });

export const staticSchema = z.strictObject({
  root: z.string(),
  index: z.string().default('index.html'),
  cache_control: z.string().optional(),
  /** Serve index.html for paths with no file (single-page apps). */
  spa_fallback: z.boolean().default(false),
  /**
   * Serve `file.zst` / `file.br` / `file.gz` next to `file` when the client accepts that coding (docs/compress.md):
   * true offers zstd, br and gzip in that order; a list offers those, in its order.
   */
  precompressed: z
    .union([z.boolean(), z.array(z.enum(compressEncodings)).min(1)])
    .default(false)
    .transform((value): CompressEncoding[] => (value === true ? [...compressEncodings] : value === false ? [] : [...new Set(value)])),
});

/**
 * request_buffering on a route: overrides the listener's `enabled` and `memory_max` for requests it
 * matches (`enabled: false` streams the body to the upstream as it arrives).
 */
export const routeBufferingSchema = z.strictObject({
  enabled: z.boolean().optional(),
  memory_max: size.optional(),
});

export const routeSchema = z
  .strictObject({
    name: z.string().optional(),
    match: matchSchema.default({}),
    pool: z.string().optional(),
    redirect: redirectSchema.optional(),
    respond: respondSchema.optional(),
    static: staticSchema.optional(),
    /**
     * DNS over HTTPS (RFC 8484): GET with `?dns=` (base64url) and POST of `application/dns-message`,
     * answered by the edge's own DNS server (the `dns:` section: zones, pool answers, resolver) in the
     * worker that took the request. No options yet: `dns: {}`.
     */
    dns: z.strictObject({}).optional(),
    strip_prefix: z.union([z.boolean(), z.string().startsWith('/')]).optional(),
    rewrite: z.strictObject({ regex: regexText, replace: z.string() }).optional(),
    /** Upstream Host header: the client's (default) or the backend address. */
    upstream_host: z.enum(['client', 'backend']).default('client'),
    timeouts: z.strictObject({ upstream_response: duration.optional() }).optional(),
    request_buffering: routeBufferingSchema.optional(),
    /** Filters run on this route's requests after the listener's `middleware` (docs/l7.md). */
    middleware: middlewareSchema.optional(),
  })
  .superRefine((route, ctx) => {
    const actions = ['pool', 'redirect', 'respond', 'static', 'dns'].filter((key) => route[key as keyof typeof route] !== undefined);
    if (actions.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `expected exactly one action of pool, redirect, respond, static or dns, got ${actions.length === 0 ? 'none' : actions.join(' and ')}`,
      });
    }
    // only a proxied request has a body to buffer
    if (route.request_buffering !== undefined && route.pool === undefined) {
      ctx.addIssue({ code: 'custom', path: ['request_buffering'], message: 'expected request_buffering only on a route with a pool' });
    }
    // filters edit what is proxied; the edge's own answers (redirect, respond, static) are not
    if (route.middleware !== undefined && route.pool === undefined) {
      ctx.addIssue({ code: 'custom', path: ['middleware'], message: 'expected middleware only on a route with a pool' });
    }
  });

export const certificateSchema = z.strictObject({
  hosts: z.array(hostPattern).min(1).optional(),
  cert: z.string(),
  key: z.string(),
  /** Used when no SNI name matches (at most one). */
  default: z.boolean().default(false),
});

export const tlsSchema = z.strictObject({
  min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  certificates: z.array(certificateSchema).default([]),
  self_signed: z.boolean().default(false),
  hsts: z
    .union([z.boolean(), z.strictObject({ max_age: duration.default(31_536_000_000), include_subdomains: z.boolean().default(false), preload: z.boolean().default(false) })])
    .default(false),
  alpn: z.array(z.enum(['h2', 'http/1.1'])).default(['h2', 'http/1.1']),
  /**
   * Server-side session-id cache for TLS 1.2 clients that do not use tickets (tickets are always on).
   * Off by default: node calls into JavaScript for every session it creates (two per TLS 1.3 handshake),
   * which halves the rate of new handshakes.
   */
  session_cache: z.boolean().default(false),
});

export const forwardedHeaderNames = ['x-forwarded-for', 'x-real-ip', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded'] as const;

export const forwardedSchema = z.strictObject({
  trusted_proxies: z.array(cidr).default([]),
  headers: z.array(z.enum(forwardedHeaderNames)).default(['x-forwarded-for', 'x-real-ip', 'x-forwarded-proto', 'x-forwarded-host']),
  /** Name of the request id header, generated when absent; false to disable. */
  request_id: z.union([z.string(), z.literal(false)]).default('x-request-id'),
});

export const timeoutsSchema = z.strictObject({
  header: duration.default(10_000),
  idle: duration.default(60_000),
  /** Time allowed between two reads of a request body. */
  body: duration.default(30_000),
  /** Time allowed for a whole request body, from the end of its head (408 past it). */
  body_total: duration.default(60_000),
  upstream_connect: duration.default(2_000),
  upstream_response: duration.default(30_000),
  /** Idle time allowed on an upgraded (WebSocket) or L4 tunnel. */
  tunnel_idle: duration.default(3_600_000),
  /** Time allowed for the PROXY protocol header of a connection from an accept_proxy_protocol source. */
  proxy_protocol: duration.default(5_000),
  /** udp listeners: a client flow (address:port) with no datagram either way for this long is forgotten. */
  udp_idle: duration.default(30_000),
});

export const limitsSchema = z.strictObject({
  max_header_size: size.default(16 * 1024),
  max_body_size: size.default(10 * 1024 * 1024),
  max_connections: positiveInt.default(10_000),
  max_requests_per_connection: positiveInt.default(10_000),
  /** udp listeners: client flows tracked at once, per worker; a new flow beyond it evicts the least recently used. */
  max_flows: positiveInt.default(10_000),
});

/**
 * Request bodies are read whole before an upstream is picked (an upstream connection is never held by a
 * slow client), then sent with Content-Length. Up to memory_max a body stays in memory; a larger one
 * (up to limits.max_body_size) spills to an unlinked temporary file under data_dir, and spill_max_total
 * bounds the bytes all spilled bodies of the listener hold at once, per worker (beyond it: 503).
 */
export const requestBufferingSchema = z.strictObject({
  enabled: z.boolean().default(true),
  memory_max: size.default(64 * 1024),
  spill_max_total: size.default(1024 * 1024 * 1024),
});

export const http2Schema = z.strictObject({
  max_concurrent_streams: positiveInt.default(128),
  max_header_list_size: size.default(64 * 1024),
  /** Streams a client may reset per second before the connection is cut (CVE-2023-44487). */
  max_resets_per_second: positiveInt.default(100),
  /**
   * auto: Switchyard's own HTTP/2 codec (also for routes to h2c, h2 and grpc pools, proxied stream to
   * stream); node: node:http2.
   */
  engine: z.enum(['auto', 'node']).default('auto'),
});

/**
 * HTTP/3 (QUIC) on an https listener's port over UDP (src/h3): `http3: true` takes the defaults. Needs the
 * HTTP/3 addon (src/h3/native), built at install when Debian's ngtcp2/nghttp3 packages are present.
 */
export const http3Schema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Request streams a client may have open at once (QUIC initial_max_streams_bidi). */
  max_concurrent_streams: positiveInt.default(100),
  /** A connection without packets for this long closes silently (QUIC max_idle_timeout); default timeouts.idle. */
  idle_timeout: duration.optional(),
  /** QPACK dynamic table size either way (0: static table only, no state an attacker can fill). */
  qpack_table_size: size.default(4096),
  /** Streams that may wait for QPACK instructions not yet received. */
  qpack_blocked_streams: z.number().int().min(0).default(100),
  /**
   * Address validation with a Retry packet before any connection state is kept: always, never, or
   * under_load (when more than retry_above handshakes are in progress in one worker).
   */
  retry: z.enum(['always', 'never', 'under_load']).default('under_load'),
  retry_above: positiveInt.default(100),
  /** How long clients may remember the Alt-Svc advertisement. */
  alt_svc_max_age: duration.default(86_400_000),
});

export const responseHeadersSchema = z.strictObject({
  /** Upstream headers removed before the response goes downstream. */
  hide: z.array(z.string().transform((name) => name.toLowerCase())).default(['server', 'x-powered-by']),
});

/** A destination port: a number, a range "8000-8999", or "*" (any port) → an inclusive [low, high] range. */
const portSpec = z.union([z.number(), z.string()]).transform((spec, ctx): [number, number] => {
  const text = String(spec);
  if (text === '*') return [1, 65535];
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const low = match ? Number(match[1]) : NaN;
  const high = match?.[2] !== undefined ? Number(match[2]) : low;
  if (!match || low < 1 || high > 65535 || low > high) {
    ctx.addIssue({ code: 'custom', message: `expected a port (1-65535), a range like "8000-8999" or "*", got ${JSON.stringify(spec)}` });
    return z.NEVER;
  }
  return [low, high];
});

/** Destination host: exact ("api.example.test", "192.0.2.7"), "*.example.test" (any name below it) or "*" (any). */
const destinationHost = z
  .string()
  .regex(/^(\*|(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])$/, { message: 'expected a host name, *.suffix or "*"' })
  .transform((host) => host.toLowerCase().replace(/\.$/, ''));

/**
 * forward_proxy listeners: who may use the proxy and where to. Every request must pass all of clients,
 * hosts, ports (connect_ports for CONNECT) and the destination address rule; a refused one gets 403.
 */
export const forwardProxyAllowSchema = z
  .strictObject({
    /** Client addresses allowed to use the proxy; absent: loopback only (127.0.0.0/8, ::1). */
    clients: z.array(cidr).min(1).optional(),
    /** Destination host patterns of absolute-URI requests and CONNECT targets. */
    hosts: z.array(destinationHost).min(1).default(['*']),
    /** Destination ports of absolute-URI (plain HTTP) requests. */
    ports: z.array(portSpec).min(1).default([[80, 80]]),
    /** Destination ports of CONNECT tunnels. */
    connect_ports: z.array(portSpec).min(1).default([[443, 443]]),
    /**
     * Address ranges a destination may resolve to. When given, only these (private ones included);
     * absent, any public unicast address and no loopback, private, link-local or other special range (SSRF).
     */
    destinations: z.array(cidr).min(1).optional(),
    /** With no destinations list: also allow loopback, private, link-local and other non-public addresses. */
    private: z.boolean().default(false),
  })
  .superRefine((allow, ctx) => {
    if (allow.destinations !== undefined && allow.private) {
      ctx.addIssue({ code: 'custom', path: ['private'], message: 'expected either destinations or private: true, got both (with destinations, only the listed ranges are allowed)' });
    }
  });

/** forward_proxy listeners: Proxy-Authorization (Basic) against a file of `user:$scrypt$…` lines (docs/forward-proxy.md). */
export const proxyAuthSchema = z.strictObject({
  /** Password file, relative to the config file: one `user:hash` per line, made by `switchyard passwd`. */
  file: z.string().min(1),
  /** The realm named in Proxy-Authenticate. */
  realm: z.string().regex(/^[\x20-\x7e]*$/).refine((realm) => !realm.includes('"') && !realm.includes('\\'), { message: 'expected a realm without quotes or backslashes' }).default('switchyard'),
});

/**
 * Who may connect to a listener, by client address (the one a PROXY header named, when the peer is an
 * accept_proxy_protocol source): an address in deny is refused; when allow is given, only its addresses pass.
 */
export const accessSchema = z
  .strictObject({
    allow: z.array(cidr).min(1).optional(),
    deny: z.array(cidr).min(1).optional(),
  })
  .refine((access) => access.allow !== undefined || access.deny !== undefined, { message: 'expected allow or deny (or both), got neither' });

export const listenerSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, { message: 'expected a lower-case name like web or pg-l4' }),
    listen: hostPort,
    protocol: z.enum(listenerProtocols).default('http'),
    tls: tlsSchema.optional(),
    forwarded: forwardedSchema.default(forwardedSchema.parse({})),
    timeouts: timeoutsSchema.default(timeoutsSchema.parse({})),
    limits: limitsSchema.default(limitsSchema.parse({})),
    request_buffering: requestBufferingSchema.default(requestBufferingSchema.parse({})),
    http2: http2Schema.default(http2Schema.parse({})),
    /** `http3: true` / `false` is short for `{ enabled: … }` with the defaults. */
    http3: z.preprocess((value) => (typeof value === 'boolean' ? { enabled: value } : value), http3Schema).default(http3Schema.parse({ enabled: false })),
    response_headers: responseHeadersSchema.default(responseHeadersSchema.parse({})),
    routes: z.array(routeSchema).optional(),
    /** Filters every proxied route of this listener runs first, before the route's own `middleware`. */
    middleware: middlewareSchema.optional(),
    /** L4 (tcp/udp) listeners: the pool to pipe to. */
    pool: z.string().optional(),
    proxy_protocol: z.enum(['v1', 'v2']).optional(),
    /** Inbound PROXY protocol (v1 or v2): sources whose connections must open with a header naming the client. */
    accept_proxy_protocol: z.array(cidr).min(1).optional(),
    access: accessSchema.optional(),
    /** forward_proxy listeners: who may use it and where to (loopback clients only when absent or without clients). */
    allow: forwardProxyAllowSchema.optional(),
    /** forward_proxy listeners: require Proxy-Authorization (Basic) checked against a password file. */
    proxy_auth: proxyAuthSchema.optional(),
    /** forward_proxy listeners: send no X-Forwarded-For / Forwarded / X-Real-IP and a Via without the proxy's name. */
    anonymous: z.boolean().default(false),
    access_log: z.boolean().default(true),
  })
  .superRefine((listener, ctx) => {
    const l7 = listener.protocol === 'http' || listener.protocol === 'https' || listener.protocol === 'h2c';
    if (l7 && (!listener.routes || listener.routes.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['routes'], message: `expected at least one route for a ${listener.protocol} listener` });
    }
    if (listener.protocol === 'https' && !listener.tls) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'expected tls settings (certificates or self_signed: true) for an https listener' });
    }
    if (listener.http3.enabled && listener.protocol !== 'https') {
      ctx.addIssue({ code: 'custom', path: ['http3'], message: `expected http3 only on an https listener (QUIC carries TLS 1.3), got protocol: ${listener.protocol}` });
    }
    if (listener.tls && listener.protocol !== 'https') {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: `expected no tls settings on a ${listener.protocol} listener (use protocol: https)` });
    }
    if ((listener.protocol === 'tcp' || listener.protocol === 'udp') && !listener.pool) {
      ctx.addIssue({ code: 'custom', path: ['pool'], message: `expected a pool for a ${listener.protocol} listener` });
    }
    if (!l7 && listener.routes) {
      ctx.addIssue({ code: 'custom', path: ['routes'], message: `expected no routes on a ${listener.protocol} listener` });
    }
    const defaults = (listener.middleware ?? []).map((entry) => entry.name);
    for (const [index, route] of (listener.routes ?? []).entries()) {
      if (route.pool === undefined) continue;
      const problem = cacheOrderProblem([...defaults, ...(route.middleware ?? []).map((entry) => entry.name)]);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: route.middleware?.length ? ['routes', index, 'middleware'] : ['middleware'], message: problem });
    }
  });

export type ListenerConfig = z.output<typeof listenerSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type MatchConfig = z.output<typeof matchSchema>;
export type TlsConfig = z.output<typeof tlsSchema>;
export type Http3Config = z.output<typeof http3Schema>;
export type ForwardedConfig = z.output<typeof forwardedSchema>;
export type TimeoutsConfig = z.output<typeof timeoutsSchema>;
export type AccessConfig = z.output<typeof accessSchema>;
export type LimitsConfig = z.output<typeof limitsSchema>;
export type ForwardProxyAllowConfig = z.output<typeof forwardProxyAllowSchema>;
export type ProxyAuthConfig = z.output<typeof proxyAuthSchema>;
export type RequestBufferingConfig = z.output<typeof requestBufferingSchema>;
