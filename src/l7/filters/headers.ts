// `headers`: set / add / remove fields on the request going upstream and on the response going downstream,
// values with {client_ip}, {request_id}, {host}, {method}, {path}, {scheme}. Edits are compiled once into
// flat lists; a side with no edits has no hook, so its writer is never built.
import type { MiddlewareSettings } from '../../config/index.ts';
import type { FilterContext, FilterFactory, HeaderWriter, HttpFilter } from './types.ts';
import { compileTemplate, renderTemplate, type Template } from './template.ts';

type HeaderEdits = NonNullable<MiddlewareSettings['headers']['request']>;

/** One side's edits in the order they apply: remove, then set, then add. */
interface CompiledEdits {
  readonly remove: readonly string[];
  readonly set: readonly (readonly [string, Template])[];
  readonly add: readonly (readonly [string, Template])[];
}

function compileEdits(edits: HeaderEdits | undefined): CompiledEdits | null {
  if (edits === undefined) return null;
  const compiled: CompiledEdits = {
    remove: edits.remove ?? [],
    set: Object.entries(edits.set ?? {}).map(([name, value]) => [name.toLowerCase(), compileTemplate(value)] as const),
    add: Object.entries(edits.add ?? {}).map(([name, value]) => [name.toLowerCase(), compileTemplate(value)] as const),
  };
  return compiled.remove.length + compiled.set.length + compiled.add.length === 0 ? null : compiled;
}

function apply(edits: CompiledEdits, ctx: FilterContext, head: HeaderWriter): void {
  for (const name of edits.remove) head.remove(name);
  for (const [name, value] of edits.set) head.set(name, renderTemplate(value, ctx));
  for (const [name, value] of edits.add) head.add(name, renderTemplate(value, ctx));
}

export const headersFilter = {
  name: 'headers',
  create(settings): HttpFilter {
    const request = compileEdits(settings.request);
    const response = compileEdits(settings.response);
    const filter: { -readonly [K in keyof HttpFilter]: HttpFilter[K] } = { name: 'headers' };
    if (request !== null) filter.onUpstreamRequest = (ctx, head) => apply(request, ctx, head);
    if (response !== null) {
      filter.onResponse = (ctx, head) => {
        apply(response, ctx, head);
        return undefined;
      };
    }
    return filter;
  },
} satisfies FilterFactory<'headers'>;
