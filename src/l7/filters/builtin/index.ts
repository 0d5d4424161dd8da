// The built-in filters: what the edge itself does to every proxied request and response — forwarded
// headers, the request id, trace context, response_headers.hide, HSTS, the edge's Server-Timing — as
// filters with the hooks every `middleware:` filter has, so each proxy path (every client × pool pair) runs
// the same code through its own HeaderWriter. They are configured by the listener's existing keys
// (forwarded, response_headers, tls.hsts), compiled once per listener config, and run implicitly at the
// head of every route's chain: before the listener's and the route's `middleware:`, so a user filter
// (`headers`) sees the edge's fields and may still replace or remove them.
import type { ListenerConfig } from '../../../config/index.ts';
import { hstsHeaderValue } from '../../../tls/index.ts';
import type { EdgeRequest, FilterContext, HeaderWriter, HttpFilter, ResponseView } from '../types.ts';
import type { BuiltinFilter } from './builtin-filter.ts';
import { createForwarded, type ForwardedSettings } from './forwarded.ts';
import { createRequestId, type RequestIdSettings } from './request-id.ts';
import { createTraceContext } from './trace-context.ts';
import { createHideHeaders, type HideHeadersSettings } from './hide-headers.ts';
import { createHsts, type HstsSettings } from './hsts.ts';
import { createServerTiming, type ServerTimingSettings } from './server-timing.ts';

/** The built-in filters' names, in the order they run. */
export const builtinFilterNames = ['forwarded', 'request_id', 'trace_context', 'hide_headers', 'hsts', 'server_timing'] as const;
export type BuiltinFilterName = (typeof builtinFilterNames)[number];

/** Each built-in filter's settings, derived from the listener's config keys (builtinSettings). */
export interface BuiltinSettings {
  forwarded: ForwardedSettings;
  request_id: RequestIdSettings;
  trace_context: Record<string, never>;
  hide_headers: HideHeadersSettings;
  hsts: HstsSettings;
  server_timing: ServerTimingSettings;
}

/** Builds a built-in filter; null when its settings leave it nothing to do (it is then not in the chain). */
export interface BuiltinFilterFactory<N extends BuiltinFilterName> {
  readonly name: N;
  create(settings: BuiltinSettings[N]): BuiltinFilter | null;
}

/** The registry of the built-in filters; `satisfies` proves every name has its factory. */
export const builtinFilterFactories = Object.freeze({
  forwarded: { name: 'forwarded', create: createForwarded },
  request_id: { name: 'request_id', create: createRequestId },
  trace_context: { name: 'trace_context', create: createTraceContext },
  hide_headers: { name: 'hide_headers', create: createHideHeaders },
  hsts: { name: 'hsts', create: createHsts },
  server_timing: { name: 'server_timing', create: createServerTiming },
} satisfies { [N in BuiltinFilterName]: BuiltinFilterFactory<N> });

/**
 * The built-in filters' settings from a listener's config. `traceable`: an admin trace token is
 * configured (the edge's Server-Timing can be asked for).
 */
export function builtinSettings(config: ListenerConfig, traceable: boolean): BuiltinSettings {
  const https = config.protocol === 'https' && config.tls !== undefined;
  return {
    forwarded: { headers: config.forwarded.headers },
    request_id: { name: config.forwarded.request_id === false ? '' : config.forwarded.request_id.toLowerCase() },
    trace_context: {},
    hide_headers: { names: config.response_headers.hide },
    hsts: { value: https ? hstsHeaderValue(config.tls!) : undefined },
    server_timing: { traceable },
  };
}

/**
 * A listener's built-in filters, compiled once per config (each path's runtime holds one). Like a
 * FilterChain, each phase keeps only the filters with its hook; the declared removals are merged, so a
 * path drops them in one pass. Not timed for the waterfall (they are the edge's own work, timed as its
 * phases).
 */
export class BuiltinFilters {
  /** The filters built, in run order (for `switchyard explain`). */
  readonly names: readonly string[];
  /** Every built-in's upstreamRemoves (lower-case names). */
  readonly upstreamRemoves: readonly string[];
  readonly upstreamRemoved: ReadonlySet<string>;
  /** Every built-in's responseRemoves (lower-case names). */
  readonly responseRemoves: readonly string[];
  private readonly upstream: readonly HttpFilter[];
  private readonly response: readonly HttpFilter[];
  /** Some response hook works on every response; else only on traced ones (or none). */
  private readonly responseAlways: boolean;

  constructor(filters: readonly BuiltinFilter[]) {
    this.names = filters.map((filter) => filter.name);
    this.upstreamRemoves = [...new Set(filters.flatMap((filter) => filter.upstreamRemoves ?? []))];
    this.upstreamRemoved = new Set(this.upstreamRemoves);
    this.responseRemoves = [...new Set(filters.flatMap((filter) => filter.responseRemoves ?? []))];
    this.upstream = filters.filter((filter) => filter.onUpstreamRequest !== undefined);
    this.response = filters.filter((filter) => filter.onResponse !== undefined);
    this.responseAlways = filters.some((filter) => filter.onResponse !== undefined && filter.tracedOnly !== true);
  }

  /** Some built-in writes the upstream request head. */
  get editsUpstream(): boolean {
    return this.upstream.length > 0;
  }

  /** Some built-in may edit a response head (the edge's Server-Timing). */
  get editsResponse(): boolean {
    return this.response.length > 0;
  }

  /**
   * Some built-in edits this request's response head: the paths ask before they build a view or a
   * wrapper for the built-ins' response phase (server_timing acts on traced requests only).
   */
  editsResponseFor(edge: EdgeRequest | undefined): boolean {
    return this.responseAlways || (this.response.length > 0 && edge !== undefined && edge.debugTrace);
  }

  /** "upstream request filters", the built-ins' part: after the path dropped upstreamRemoves from the client's head. */
  onUpstreamRequest(ctx: FilterContext, head: HeaderWriter): void {
    const filters = this.upstream;
    for (let i = 0; i < filters.length; i++) filters[i].onUpstreamRequest!(ctx, head);
  }

  /** "response filters", the built-ins' part (head edits only: no built-in transforms or replaces a response). */
  onResponse(ctx: FilterContext, head: HeaderWriter, response: ResponseView): void {
    const filters = this.response;
    for (let i = 0; i < filters.length; i++) filters[i].onResponse!(ctx, head, response);
  }
}

/** Builds a listener's built-in filters from their settings, in builtinFilterNames order. */
export function buildBuiltins(settings: BuiltinSettings): BuiltinFilters {
  const filters: BuiltinFilter[] = [];
  for (const name of builtinFilterNames) {
    const factory = builtinFilterFactories[name] as BuiltinFilterFactory<typeof name>;
    const filter = (factory.create as (settings: BuiltinSettings[typeof name]) => BuiltinFilter | null)(settings[name]);
    if (filter !== null) filters.push(filter);
  }
  return new BuiltinFilters(filters);
}

export { usableRequestId, MAX_REQUEST_ID } from './request-id.ts';
export { forwardedValue } from './forwarded.ts';
