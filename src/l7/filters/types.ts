// The filter contract: what a filter sees of a request, how it edits a head, and how it answers locally.
// Every proxy path (HTTP/1.1 and HTTP/2 downstream × HTTP/1.1 and HTTP/2/gRPC upstream) runs the same
// filters through these interfaces; each path adapts its own head representation (writers.ts).
import type { MiddlewareName, MiddlewareSettings } from '../../config/index.ts';

/**
 * The request as filters see it. Each path implements it over its own state (the HTTP/1.1 exchange with
 * getters over the parsed head), so reading it allocates nothing unless a filter asks for a header.
 */
export interface FilterContext {
  readonly method: string;
  /** The normalised path without the query. */
  readonly path: string;
  /** The client's Host / :authority, as sent (may carry a port). */
  readonly host: string;
  readonly scheme: 'http' | 'https';
  /** The client's address after trusted proxies. */
  readonly clientAddress: string;
  /** The request id ('' when the listener has request ids off). */
  readonly requestId: string;
  /** The first value of a request header (lower-case name). */
  header(name: string): string | undefined;
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
  body: string;
}

/**
 * A filter built once per compiled route from its settings. Hooks are optional: the chain calls only the
 * filters that have one, and a path builds a writer only when some filter of the route has that hook.
 * - onRequest: after routing, before an upstream is picked; returning a LocalResponse answers the request
 *   here (the later filters and the upstream are skipped).
 * - onUpstreamRequest: the head as it goes upstream, after the edge's own fields (forwarded headers,
 *   request id, traceparent) are in it.
 * - onResponse: a final upstream response head as it goes downstream (not 1xx, not a 101 tunnel).
 */
export interface HttpFilter {
  readonly name: string;
  onRequest?(ctx: FilterContext): LocalResponse | undefined;
  onUpstreamRequest?(ctx: FilterContext, head: HeaderWriter): void;
  onResponse?(ctx: FilterContext, head: HeaderWriter): void;
}

/** Builds a filter from its validated settings; registered under its config name. */
export interface FilterFactory<N extends MiddlewareName = MiddlewareName> {
  readonly name: N;
  create(settings: MiddlewareSettings[N]): HttpFilter;
}
