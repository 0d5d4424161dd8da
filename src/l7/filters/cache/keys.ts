// Cache keys: `scheme://host/path?query` \0 route, and for a URL whose responses vary, \0 and the request's
// values of the Vary names (whitespace-normalised). The URL comes first so that purges by URL or prefix
// match keys directly.
import type { FilterContext } from '../types.ts';

export function primaryKey(ctx: FilterContext): string {
  const url = `${ctx.scheme}://${authority(ctx)}${ctx.path}`;
  return ctx.query === '' ? `${url}\0${ctx.routeName}` : `${url}?${ctx.query}\0${ctx.routeName}`;
}

/** Host lower-cased, without the scheme's default port (as URL parsing spells it, so purges match). */
function authority(ctx: FilterContext): string {
  const host = ctx.host.toLowerCase();
  const defaultPort = ctx.scheme === 'https' ? ':443' : ':80';
  return host.endsWith(defaultPort) ? host.slice(0, -defaultPort.length) : host;
}

export function variantKey(primary: string, names: readonly string[], ctx: FilterContext): string {
  if (names.length === 0) return primary;
  let key = primary;
  for (const name of names) key += `\0${(ctx.header(name) ?? '').trim().replace(/\s+/g, ' ')}`;
  return key;
}

/** The lower-case names of a Vary value. */
export function varyNames(vary: string | undefined): string[] {
  if (vary === undefined) return [];
  const names: string[] = [];
  for (const name of vary.split(',')) {
    const trimmed = name.trim().toLowerCase();
    if (trimmed !== '' && !names.includes(trimmed)) names.push(trimmed);
  }
  return names;
}

/** A purge target as keys spell it: the scheme and host lower-cased (URL parsing), the path as given. */
export function normalisePurgeUrl(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return `${url.protocol}//${url.host}${url.pathname}${url.search}`;
}
