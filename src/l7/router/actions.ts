// What a matched route does, precomputed at compile time: proxy (with path rewriting), redirect, a fixed
// response whose bytes are built once, static files, or DNS over HTTPS.
import type { CompressEncoding, RouteConfig } from '../../config/index.ts';
import { reasonPhrase } from '../reason.ts';

export interface ProxyAction {
  readonly kind: 'proxy';
  readonly pool: string;
  /** Prefix removed from the path before it goes upstream, or null. */
  readonly stripPrefix: string | null;
  readonly rewrite: { regex: RegExp; replace: string } | null;
  readonly upstreamHost: 'client' | 'backend';
  /** Route override of timeouts.upstream_response, or -1. */
  readonly responseTimeout: number;
  /** Route overrides of request_buffering (enabled, memory_max); undefined: the listener's. */
  readonly bufferingEnabled: boolean | undefined;
  readonly bufferingMemoryMax: number | undefined;
}

export interface RedirectAction {
  readonly kind: 'redirect';
  readonly status: number;
  readonly to: string | null;
  readonly scheme: string | null;
  readonly host: string | null;
  readonly port: number | null;
  readonly keepPath: boolean;
}

export interface RespondAction {
  readonly kind: 'respond';
  readonly status: number;
  /** Status line and headers without Connection and without the final CRLF; body separate. */
  readonly head: string;
  /** The same headers as flat lower-case name/value pairs without content-length, for other codecs (HTTP/2). */
  readonly fields: readonly string[];
  readonly body: Buffer;
  /** The configured headers include a Date: the edge adds none of its own. */
  readonly dated: boolean;
}

export interface StaticAction {
  readonly kind: 'static';
  /** As configured (relative to the config file's directory; resolved by the listener runtime). */
  readonly root: string;
  readonly index: string;
  readonly cacheControl: string | undefined;
  readonly spaFallback: boolean;
  /** Codings whose precompressed siblings (`.zst`, `.br`, `.gz`) are served, in preference order; [] for none. */
  readonly precompressed: readonly CompressEncoding[];
  readonly stripPrefix: string | null;
  readonly rewrite: { regex: RegExp; replace: string } | null;
}

/** DNS over HTTPS (RFC 8484): the query is answered by the process's DNS engine (doh.ts). */
export interface DnsAction {
  readonly kind: 'dns';
}

export type RouteAction = ProxyAction | RedirectAction | RespondAction | StaticAction | DnsAction;

const DNS_ACTION: DnsAction = { kind: 'dns' };

export function compileAction(route: RouteConfig): RouteAction {
  if (route.pool !== undefined) {
    return {
      kind: 'proxy',
      pool: route.pool,
      stripPrefix: stripPrefixOf(route),
      rewrite: route.rewrite ? { regex: new RegExp(route.rewrite.regex), replace: route.rewrite.replace } : null,
      upstreamHost: route.upstream_host,
      responseTimeout: route.timeouts?.upstream_response ?? -1,
      bufferingEnabled: route.request_buffering?.enabled,
      bufferingMemoryMax: route.request_buffering?.memory_max,
    };
  }
  if (route.redirect !== undefined) {
    const r = route.redirect;
    return { kind: 'redirect', status: r.status, to: r.to ?? null, scheme: r.scheme ?? null, host: r.host ?? null, port: r.port ?? null, keepPath: r.keep_path };
  }
  if (route.respond !== undefined) {
    const r = route.respond;
    const body = Buffer.from(r.body, 'utf8');
    let head = `HTTP/1.1 ${r.status} ${reasonPhrase(r.status)}\r\ncontent-type: ${r.content_type}\r\ncontent-length: ${body.length}\r\n`;
    const fields = ['content-type', r.content_type];
    for (const [name, value] of Object.entries(r.headers)) {
      head += `${name}: ${value}\r\n`;
      fields.push(name.toLowerCase(), value);
    }
    return { kind: 'respond', status: r.status, head, fields, body, dated: fields.some((field, i) => i % 2 === 0 && field === 'date') };
  }
  if (route.dns !== undefined) return DNS_ACTION;
  const s = route.static!;
  return {
    kind: 'static',
    root: s.root,
    index: s.index,
    cacheControl: s.cache_control,
    spaFallback: s.spa_fallback,
    precompressed: s.precompressed,
    stripPrefix: stripPrefixOf(route),
    rewrite: route.rewrite ? { regex: new RegExp(route.rewrite.regex), replace: route.rewrite.replace } : null,
  };
}

function stripPrefixOf(route: RouteConfig): string | null {
  const prefix = route.strip_prefix === true ? (route.match.path_prefix ?? null) : typeof route.strip_prefix === 'string' ? route.strip_prefix : null;
  return prefix === '/' ? null : prefix;
}

/** The path (and query) sent upstream after strip_prefix and rewrite. Allocates only when they apply. */
export function upstreamTarget(action: Pick<ProxyAction, 'stripPrefix' | 'rewrite'>, target: string, path: string): string {
  if (action.stripPrefix === null && action.rewrite === null) return target;
  const query = target.length > path.length ? target.slice(path.length) : '';
  let newPath = path;
  if (action.stripPrefix !== null && newPath.startsWith(action.stripPrefix)) {
    newPath = newPath.slice(action.stripPrefix.endsWith('/') ? action.stripPrefix.length - 1 : action.stripPrefix.length);
    if (newPath.length === 0 || newPath.charCodeAt(0) !== 0x2f) newPath = '/' + newPath;
  }
  if (action.rewrite !== null) newPath = newPath.replace(action.rewrite.regex, action.rewrite.replace);
  return newPath + query;
}

/** Location for a redirect: `to` (+ target when keep_path) or scheme/host/port applied to the request's URL. */
export function redirectLocation(action: RedirectAction, requestScheme: string, hostname: string, authority: string, target: string): string {
  if (action.to !== null) {
    if (!action.keepPath) return action.to;
    return action.to.endsWith('/') ? action.to + target.slice(1) : action.to + target;
  }
  const scheme = action.scheme ?? requestScheme;
  let host: string;
  if (action.host !== null) host = action.host;
  else if (action.port !== null || action.scheme !== null) host = hostname;
  else host = authority;
  const port = action.port !== null ? `:${action.port}` : '';
  return `${scheme}://${host}${port}${action.keepPath ? target : '/'}`;
}
