// A route's filters in run order (the listener's `middleware` first, then the route's), built once per
// compiled route. Each phase keeps only the filters that have its hook, so a phase no filter uses costs a
// length check, and a route without middleware has no chain at all (CompiledRoute.filters is null).
import type { MiddlewareConfig } from '../../config/index.ts';
import type { FilterContext, FilterFactory, HeaderWriter, HttpFilter, LocalResponse } from './types.ts';

export class FilterChain {
  /** The filter names in run order (for `switchyard check` and traces). */
  readonly names: readonly string[];
  private readonly request: readonly HttpFilter[];
  private readonly upstream: readonly HttpFilter[];
  private readonly response: readonly HttpFilter[];

  constructor(filters: readonly HttpFilter[]) {
    this.names = filters.map((filter) => filter.name);
    this.request = filters.filter((filter) => filter.onRequest !== undefined);
    this.upstream = filters.filter((filter) => filter.onUpstreamRequest !== undefined);
    this.response = filters.filter((filter) => filter.onResponse !== undefined);
  }

  /** Some filter edits the upstream request head: the path builds a writer for it. */
  get editsUpstream(): boolean {
    return this.upstream.length > 0;
  }

  /** Some filter edits the response head. */
  get editsResponse(): boolean {
    return this.response.length > 0;
  }

  /** "request filters": the first filter that answers wins, the ones after it do not run. */
  onRequest(ctx: FilterContext): LocalResponse | undefined {
    const filters = this.request;
    for (let i = 0; i < filters.length; i++) {
      const answer = filters[i].onRequest!(ctx);
      if (answer !== undefined) return answer;
    }
    return undefined;
  }

  /** "upstream request filters", in order. */
  onUpstreamRequest(ctx: FilterContext, head: HeaderWriter): void {
    const filters = this.upstream;
    for (let i = 0; i < filters.length; i++) filters[i].onUpstreamRequest!(ctx, head);
  }

  /** "response filters", in order. */
  onResponse(ctx: FilterContext, head: HeaderWriter): void {
    const filters = this.response;
    for (let i = 0; i < filters.length; i++) filters[i].onResponse!(ctx, head);
  }
}

/** What builds filters by name (builtinFilters() in index.ts, or a test's own). */
export type FilterRegistry = ReadonlyMap<string, FilterFactory>;

/**
 * The chain of a proxied route: `defaults` (the listener's middleware) then the route's own; null when both
 * are empty. Names were checked against the schema at load; one the registry lacks is a programming error.
 */
export function buildChain(registry: FilterRegistry, defaults: MiddlewareConfig | undefined, own: MiddlewareConfig | undefined): FilterChain | null {
  const entries = [...(defaults ?? []), ...(own ?? [])];
  if (entries.length === 0) return null;
  return new FilterChain(
    entries.map((entry) => {
      const factory = registry.get(entry.name);
      if (factory === undefined) throw new Error(`l7 filters: no filter registered as ${entry.name} (known: ${[...registry.keys()].join(', ')})`);
      return (factory as FilterFactory<typeof entry.name>).create(entry.settings);
    }),
  );
}
