// Cache keys: `scheme://host/path?query` \0 scope \0 route, and for a URL whose responses vary, \0 and the
// request's values of the Vary names (whitespace-normalised). The URL comes first so that purges by URL or
// prefix match keys directly. The scope is the listener's name (FilterEnv.scope): the memory and disk
// stores are one per process, and route names repeat across listeners (`#0` is every listener's first
// unnamed route), so without it one listener's route could be answered from what another's pool sent.
import type { FilterContext } from '../types.ts';

export function primaryKey(ctx: FilterContext, scope: string): string {
  const url = `${ctx.scheme}://${authority(ctx)}${ctx.path}`;
  return ctx.query === '' ? `${url}\0${scope}\0${ctx.routeName}` : `${url}?${ctx.query}\0${scope}\0${ctx.routeName}`;
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
  // every line of the field, as the origin reads it: with the first alone, `Accept-Encoding: gzip` then
  // `Accept-Encoding: br` would store the origin's br answer where a gzip-only client looks it up
  const edge = ctx.edge;
  for (const name of names) key += `\0${(edge !== undefined ? edge.joinedHeader(name) : (ctx.header(name) ?? '')).trim().replace(/\s+/g, ' ')}`;
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

/** One URL's primary key and the request parts it was built from. */
interface KnownKey {
  readonly host: string;
  readonly query: string;
  readonly scheme: string;
  readonly route: string;
  readonly primary: string;
}

/** Paths a KeyIndex remembers before it starts over. */
const knownPathsMax = 4096;

/**
 * The primary keys of the URLs a route was asked for, found by their parts: the path is looked up in a
 * map and the host, query, scheme and route compared as they are, so a repeated URL (every cache hit)
 * builds no key string and hashes only its short path; the key it gets back is a string the store has
 * hashed before. Bounded: past `knownPathsMax` paths it is emptied and fills again.
 */
export class KeyIndex {
  private readonly byPath = new Map<string, KnownKey | KnownKey[]>();
  /** The listener's name, part of every key (primaryKey). */
  private readonly scope: string;

  constructor(scope: string) {
    this.scope = scope;
  }

  primary(ctx: FilterContext): string {
    const path = ctx.path;
    const host = ctx.host;
    const query = ctx.query;
    const scheme = ctx.scheme;
    const route = ctx.routeName;
    const known = this.byPath.get(path);
    if (known !== undefined) {
      if (!Array.isArray(known)) {
        if (known.host === host && known.query === query && known.scheme === scheme && known.route === route) return known.primary;
      } else {
        for (const each of known) if (each.host === host && each.query === query && each.scheme === scheme && each.route === route) return each.primary;
      }
    }
    const primary = primaryKey(ctx, this.scope);
    const added: KnownKey = { host, query, scheme, route, primary };
    if (known === undefined) {
      if (this.byPath.size >= knownPathsMax) this.byPath.clear();
      this.byPath.set(path, added);
    } else if (!Array.isArray(known)) this.byPath.set(path, [known, added]);
    // one path under many hosts or queries: the list stays short, the newest first
    else {
      if (known.length >= 8) known.pop();
      known.unshift(added);
    }
    return primary;
  }
}
