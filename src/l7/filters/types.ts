// The filter contract: what a filter sees of a request, how it edits a head, how it answers locally, and
// how it sees and transforms a response body. Every proxy path (HTTP/1.1 and HTTP/2 downstream × HTTP/1.1,
// HTTP/1.1+TLS and HTTP/2/gRPC upstream) runs the same filters through these interfaces; each path adapts
// its own head representation (writers.ts).
import type { MiddlewareName, MiddlewareSettings } from '../../config/index.ts';

/**
 * The request as filters see it. Each path implements it over its own state (the HTTP/1.1 exchange with
 * getters over the parsed head), so reading it allocates nothing unless a filter asks for a header.
 */
export interface FilterContext {
  readonly method: string;
  /** The normalised path without the query. */
  readonly path: string;
  /** The raw query without the '?' ('' when none). */
  readonly query: string;
  /** The client's Host / :authority, as sent (may carry a port). */
  readonly host: string;
  readonly scheme: 'http' | 'https';
  /** The client's address after trusted proxies. */
  readonly clientAddress: string;
  /** The request id ('' when the listener has request ids off). */
  readonly requestId: string;
  /** The matched route's name. */
  readonly routeName: string;
  /** The first value of a request header (lower-case name). */
  header(name: string): string | undefined;
  /** A request cookie's value (the first of that name). */
  cookie(name: string): string | undefined;
  /**
   * Per-request values a filter keeps between its hooks (e.g. the cache key from onRequest for onResponse,
   * verified claims for onUpstreamRequest). Keyed by the filter object; nothing is allocated until a filter
   * stashes something.
   */
  stash(filter: HttpFilter, value: unknown): void;
  stashed(filter: HttpFilter): unknown;
  /**
   * Asks "pick upstream" to prefer this backend (its id, "host:port" as in the pool's status) when it is
   * usable (healthy, not draining, not already tried); otherwise the pool's policy picks as usual.
   */
  preferBackend(id: string): void;
  /**
   * Records why this filter decided as it did, for the access log's `reason` field (short codes such as
   * `waf:sqli-union`, `rate_limit:limited`, `jwt:expired`); also for decisions that let the request through
   * (a WAF in detect mode). Several filters' reasons are joined with ",".
   */
  setReason(code: string): void;
  /**
   * The first bytes of the request body (framing decoded), up to the largest `readsBody` of the route's
   * request filters; empty when the request has no body or no filter reads it. Valid in onRequest.
   */
  bodyPrefix(): Buffer;
  /**
   * Where the chain records each filter's phase times (chain.ts FILTER_TIMES per filter, in the chain's
   * order); absent or null: not recorded. Set by the proxy paths, read by the recent-requests ring.
   */
  readonly filterTimes?: Float64Array | null;
  /**
   * The edge's own facts about the request (TCP peer, local port, trace ids), for the built-in filters
   * (builtin/): every proxy path provides it, over its own state, without copying.
   */
  readonly edge?: EdgeRequest;
}

/**
 * What the built-in filters read beyond FilterContext: what the edge knows of the connection and of the
 * trace it continues or starts. Set in the "request headers" phase, before any filter runs.
 */
export interface EdgeRequest {
  /** The TCP peer (before trusted proxies). */
  readonly peerAddress: string;
  /** The peer is one of forwarded.trusted_proxies (its X-Forwarded-* fields are believed). */
  readonly peerTrusted: boolean;
  /** The listener's port the request arrived on. */
  readonly localPort: number;
  /** Every value of a request field (lower-case name) joined with ", "; '' when none. */
  joinedHeader(name: string): string;
  /** The client's own request-id field (forwarded.request_id), undefined when it sent none. */
  readonly sentRequestId: string | undefined;
  /** The client sent a tracestate field. */
  readonly sentTracestate: boolean;
  /** The W3C trace the request belongs to and the edge's span in it. */
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: string;
  /** The client's traceparent was valid: its trace continues, and its tracestate goes with it. */
  readonly traceContinued: boolean;
  /** x-switchyard-trace carried the admin token: the edge's Server-Timing goes back. */
  readonly debugTrace: boolean;
  /** The edge's phases as a Server-Timing value (edge-timing.ts), read when the final response head arrives. */
  edgeTiming(): string;
}

/**
 * One head being edited. Names are lower-case tokens checked at load; values carry no CR/LF/NUL. `set`
 * replaces every field of the name, `add` appends one, `remove` drops every field of the name — including
 * the ones the edge itself adds (forwarded headers, request id) and the ones an earlier filter added.
 */
export interface HeaderWriter {
  set(name: string, value: string): void;
  add(name: string, value: string): void;
  remove(name: string): void;
}

/** A response a request filter makes instead of proxying: the edge writes it as it writes its own answers. */
export interface LocalResponse {
  status: number;
  /** Flat [name, value, …], lower-case names; content-type defaults to text/plain. */
  headers: readonly string[];
  body: string | Buffer;
  /**
   * Set by a filter that hands out the same unchanged answer object again and again (a cache hit within one
   * second): the HTTP/1.1 path keeps the encoded answer here and writes it as it is while the Date and the
   * connection lines are the ones it was built for. A filter never touches it beyond creating it empty.
   */
  readonly wire?: WireMemo;
}

/** The encoded HTTP/1.1 answer of one LocalResponse (see LocalResponse.wire); owned by the path that writes it. */
export interface WireMemo {
  date: string;
  lines: string;
  /** Head and body (or the head alone for a large body), or null until built. */
  bytes: Buffer | null;
  /** A large body, written after `bytes`; null when `bytes` holds it. */
  tail: Buffer | null;
  headLength: number;
}

/** What onRequest decides: answer here (LocalResponse), or undefined to go on. */
export type RequestVerdict = LocalResponse | undefined;

/** The upstream's final response head as response filters see it (before their edits). */
export interface ResponseView {
  readonly status: number;
  /** The first value of a response header (lower-case name), as the upstream sent it. */
  header(name: string): string | undefined;
  /** Every field of the upstream response as flat [name, value, …] with lower-case names (allocates). */
  fields(): string[];
  /** The id ("host:port") of the backend that answered. */
  readonly backend: string;
  /**
   * Set when this is a filter's own answer shown to the response filters declared before it (no upstream
   * made it): a cache must not store it as the URL's response.
   */
  readonly local?: boolean;
}

/**
 * Where response body bytes go. A path hands its own sink (the downstream, with backpressure towards the
 * upstream handled by the path) to the first transform; a transform may call `write` later than it was
 * called itself (zlib), and must call `end` exactly once after its input ended.
 */
export interface BodySink {
  write(chunk: Buffer): void;
  end(): void;
  /**
   * Optional, offered by a path's own sink: a transform whose input backlog is full (a compressor slower
   * than the upstream) calls hold() and the path stops reading the upstream until release(); without it a
   * fast upstream would be buffered whole in the transform.
   */
  hold?(): void;
  release?(): void;
}

/**
 * A response body transform a response filter returns: `open` gets the next sink and returns the sink
 * the body is written into. `abort` on the returned sink (optional) is called instead of `end` when the
 * response is cut (upstream reset, client gone): a cache must then not store it.
 * When `keepsLength` is false the path drops Content-Length and frames the body itself (chunked to an
 * HTTP/1.1 client, until close for HTTP/1.0, DATA frames on HTTP/2).
 */
export interface BodyTransform {
  readonly keepsLength: boolean;
  open(next: BodySink): BodySink & { abort?(): void };
}

/**
 * What onResponse decides: undefined (head edits only), a body transform, or a LocalResponse that
 * replaces the upstream response entirely (e.g. a cache turning its own revalidation's 304 into the
 * stored 200); the upstream body, if any, is then discarded.
 */
export type ResponseVerdict = BodyTransform | LocalResponse | undefined;

/**
 * A filter built once per compiled route from its settings. Hooks are optional: the chain calls only the
 * filters that have one, and a path builds a writer only when some filter of the route has that hook.
 * - onRequest: after routing, before an upstream is picked; returning a LocalResponse answers the request
 *   here (the later filters and the upstream are skipped; the response filters of the filters declared
 *   before it run on the answer, as on an upstream's response). May return a promise (an external store, a
 *   subrequest, a key fetch): the request waits — its body is held by the path, with its usual limits.
 * - onUpstreamRequest: the head as it goes upstream, after the built-in filters (builtin/: forwarded
 *   headers, request id, traceparent) wrote the edge's own fields into it.
 * - onResponse: a final upstream response head as it goes downstream (not 1xx, not a 101 tunnel), after
 *   the built-ins' removals (response_headers.hide, an upstream's HSTS) and their edits (Server-Timing).
 *   Filters run in declared order; body transforms chain in the same order (the first filter's transform
 *   sees the upstream bytes first). A replacing LocalResponse stops the later filters.
 * - onUpstreamFailure: no upstream response came (connect error, reset or timeout before its head, no
 *   usable backend): `status` is the error the edge would answer (502, 503, 504); a filter may answer
 *   instead (a cache's stale copy). The first answer wins; not called once a response started.
 */
export interface HttpFilter {
  readonly name: string;
  /**
   * Request fields this filter always writes itself (forwarded headers): every copy the client sent is
   * removed from the upstream head before the upstream request filters run. Declared once, so each path
   * drops them where it is cheapest (the HTTP/1.1 head copy skips their kinds; flat lists skip the names).
   */
  readonly upstreamRemoves?: readonly string[];
  /**
   * Response fields removed from the upstream's head before the response filters run
   * (response_headers.hide, an upstream's Strict-Transport-Security): the HTTP/1.1 parser marks them
   * as it parses, flat lists skip them.
   */
  readonly responseRemoves?: readonly string[];
  /**
   * Bytes of the request body onRequest needs to see (ctx.bodyPrefix()): the path reads up to this much of
   * the body before the request filters run (the client's own pace, bounded by timeouts.body), so a rule
   * cannot be evaded by splitting the body across packets. Absent or 0: the filters run on the head alone.
   */
  readonly readsBody?: number;
  onRequest?(ctx: FilterContext): RequestVerdict | Promise<RequestVerdict>;
  onUpstreamRequest?(ctx: FilterContext, head: HeaderWriter): void;
  onResponse?(ctx: FilterContext, head: HeaderWriter, response: ResponseView): ResponseVerdict;
  onUpstreamFailure?(ctx: FilterContext, status: number): LocalResponse | undefined;
}

/** Builds a filter from its validated settings; registered under its config name. */
export interface FilterFactory<N extends MiddlewareName = MiddlewareName> {
  readonly name: N;
  create(settings: MiddlewareSettings[N], env: FilterEnv): HttpFilter;
}

/**
 * What a filter may use beyond its settings, passed in (no globals): the clock, where relative files
 * resolve, and the per-process services a filter may share across routes (one Redis client per URL, the
 * cache store, the local rate-limit table). Owned by the listener runtime; closed on stop.
 */
export interface FilterEnv {
  /** Milliseconds, monotonic (the listener's clock). */
  now(): number;
  /** The config file's directory (relative paths in settings resolve against it). */
  readonly baseDir: string;
  /** data_dir, absolute. */
  readonly dataDir: string;
  /**
   * The listener the filters are built for (its name; '' outside a listener): what a filter keeps in a
   * process-wide shared object is keyed with it where listeners must not see each other's (cache keys).
   */
  readonly scope: string;
  /** A per-process shared object under `key`, built once by `make` (and `close`d at shutdown when it has close()). */
  shared<T>(key: string, make: () => T): T;
  /** Logs an operational event (not per request: transitions, failures to reach a store). */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** The counters and timings of filter `filter` (summed over workers into the filter metrics). */
  stats(filter: MiddlewareName): FilterStats;
}

/**
 * A filter's metrics: `switchyard_filter_events_total{filter, event}` and
 * `switchyard_filter_duration_seconds{filter, event}` (a histogram), summed over workers. Events are a
 * small fixed set per filter (e.g. rate_limit: allowed, limited, store_error); cheap enough for the hot path.
 */
export interface FilterStats {
  count(event: string, n?: number): void;
  observe(event: string, seconds: number): void;
}
