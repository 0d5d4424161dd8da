// Header value templates: "{client_ip}" and friends are split out once, at build time, so a value without
// placeholders is a constant string and one with them is a join of precomputed parts.
import type { HeaderPlaceholder } from '../../config/index.ts';
import type { FilterContext } from './types.ts';

/** A compiled value: the constant itself, or literal/placeholder parts to join per request. */
export type Template = string | readonly (string | Placeholder)[];

interface Placeholder {
  readonly read: (ctx: FilterContext) => string;
}

const readers: Readonly<Record<HeaderPlaceholder, Placeholder>> = {
  client_ip: { read: (ctx) => ctx.clientAddress },
  request_id: { read: (ctx) => ctx.requestId },
  host: { read: (ctx) => ctx.host },
  method: { read: (ctx) => ctx.method },
  path: { read: (ctx) => ctx.path },
  scheme: { read: (ctx) => ctx.scheme },
};

/** Compiles a value the schema accepted (its placeholders are known ones). */
export function compileTemplate(value: string): Template {
  const parts: (string | Placeholder)[] = [];
  let at = 0;
  for (const match of value.matchAll(/\{([a-z_]+)\}/g)) {
    const reader = readers[match[1] as HeaderPlaceholder];
    if (reader === undefined) continue;
    if (match.index > at) parts.push(value.slice(at, match.index));
    parts.push(reader);
    at = match.index + match[0].length;
  }
  if (parts.length === 0) return value;
  if (at < value.length) parts.push(value.slice(at));
  return parts;
}

/** The value for this request; what a placeholder reads never carries CR/LF (parsed fields), but is checked. */
export function renderTemplate(template: Template, ctx: FilterContext): string {
  if (typeof template === 'string') return template;
  let out = '';
  for (const part of template) out += typeof part === 'string' ? part : part.read(ctx);
  return /[\r\n\0]/.test(out) ? out.replace(/[\r\n\0]/g, '') : out;
}
