// The filter registry: every built-in filter registers under its config name (`middleware: - <name>:`),
// exactly as an added one would; the `satisfies` clause proves each name the schema accepts has an
// implementation building from that name's settings.
import type { MiddlewareName } from '../../config/index.ts';
import type { FilterFactory } from './types.ts';
import { headersFilter } from './headers.ts';

const builtins = Object.freeze({
  headers: headersFilter,
} satisfies { [N in MiddlewareName]: FilterFactory<N> });

/** A fresh registry holding the built-in filters (HttpListenerDeps.filters takes another). */
export function builtinFilters(): Map<string, FilterFactory> {
  return new Map<string, FilterFactory>(Object.entries(builtins) as [string, FilterFactory][]);
}

export { FilterChain, buildChain, type FilterRegistry } from './chain.ts';
export { LineWriter, FlatWriter, RecordWriter, withoutField } from './writers.ts';
export { localResponseFields } from './local.ts';
export type { FilterContext, HeaderWriter, HttpFilter, LocalResponse, FilterFactory } from './types.ts';
