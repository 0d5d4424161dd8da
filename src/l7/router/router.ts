// The router: a listener's routes compiled once into flat matchers; first match wins.
// Per request it compares strings already made by the parser and allocates nothing unless a route
// matches on headers (then it reads the header value from the head).
import type { MiddlewareConfig, RouteConfig } from '../../config/index.ts';
import { compileAction, type RouteAction } from './actions.ts';
import { buildChain, type FilterChain, type FilterEnv, type FilterRegistry } from '../filters/index.ts';

export interface HeaderSource {
  header(lowerName: string): string | undefined;
}

const PATH_ANY = 0;
const PATH_PREFIX = 1;
const PATH_EXACT = 2;
const PATH_REGEX = 3;

interface HeaderMatcher {
  name: string;
  exact: string | undefined;
  regex: RegExp | undefined;
  present: boolean | undefined;
}

export interface CompiledRoute {
  readonly index: number;
  /** The route's name, or "#<index>" for logs. */
  readonly name: string;
  readonly exactHosts: readonly string[] | null;
  /** ".example.test" for "*.example.test": one label before the suffix. */
  readonly wildcardHosts: readonly string[] | null;
  readonly pathKind: number;
  readonly pathValue: string;
  readonly pathRegex: RegExp | null;
  readonly methods: readonly string[] | null;
  readonly headers: readonly HeaderMatcher[] | null;
  readonly action: RouteAction;
  /** The listener's then the route's middleware, built once; null when there is none or the route does not proxy. */
  readonly filters: FilterChain | null;
}

export class Router {
  readonly routes: readonly CompiledRoute[];

  /**
   * `middleware`: the listener's default filters, run before each proxied route's own, built from
   * `filters` (absent: routes get no chain — only for routers that never proxy, as in unit tests).
   */
  constructor(routes: readonly RouteConfig[], middleware?: MiddlewareConfig, filters?: { registry: FilterRegistry; env: FilterEnv }) {
    const chain = (route: RouteConfig) => {
      if (route.pool === undefined || (middleware === undefined && route.middleware === undefined)) return null;
      if (filters === undefined) throw new Error('router: routes with middleware need a filter host');
      return buildChain(filters.registry, filters.env, middleware, route.middleware);
    };
    this.routes = routes.map((route, index) => compileRoute(route, index, chain(route)));
  }

  /** First matching route or null. `hostname` is lower-case without port; `path` excludes the query. */
  match(method: string, hostname: string, path: string, headers: HeaderSource): CompiledRoute | null {
    const routes = this.routes;
    for (let r = 0; r < routes.length; r++) {
      if (mismatch(routes[r], method, hostname, path, headers) === MATCH) return routes[r];
    }
    return null;
  }

  /**
   * `switchyard explain`: the verdict of every route up to and including the one match() would return
   * (the same test, so the two cannot disagree), with why each earlier route did not match.
   */
  explain(method: string, hostname: string, path: string, headers: HeaderSource): RouteVerdict[] {
    const verdicts: RouteVerdict[] = [];
    for (const route of this.routes) {
      const kind = mismatch(route, method, hostname, path, headers);
      if (kind === MATCH) {
        verdicts.push({ route, matches: true, reason: 'matches' });
        break;
      }
      verdicts.push({ route, matches: false, reason: explainMismatch(route, kind, method, hostname, path, headers) });
    }
    return verdicts;
  }
}

export interface RouteVerdict {
  route: CompiledRoute;
  matches: boolean;
  /** "matches", or why not: "host mismatch: …", "path mismatch: …", "method mismatch: …", "header mismatch: …". */
  reason: string;
}

const MATCH = 0;
const HOST = 1;
const PATH = 2;
const METHOD = 3;
const HEADER = 4;

/** MATCH, or the first condition of the route the request fails (in the order the conditions are tested). */
function mismatch(route: CompiledRoute, method: string, hostname: string, path: string, headers: HeaderSource): number {
  if (route.exactHosts !== null || route.wildcardHosts !== null) {
    if (!hostMatches(route, hostname)) return HOST;
  }
  switch (route.pathKind) {
    case PATH_PREFIX:
      if (!path.startsWith(route.pathValue)) return PATH;
      break;
    case PATH_EXACT:
      if (path !== route.pathValue) return PATH;
      break;
    case PATH_REGEX:
      if (!route.pathRegex!.test(path)) return PATH;
      break;
  }
  if (route.methods !== null && !route.methods.includes(method)) return METHOD;
  if (route.headers !== null && failedHeader(route.headers, headers) !== undefined) return HEADER;
  return MATCH;
}

function explainMismatch(route: CompiledRoute, kind: number, method: string, hostname: string, path: string, headers: HeaderSource): string {
  switch (kind) {
    case HOST:
      return `host mismatch: route wants ${[...(route.exactHosts ?? []), ...(route.wildcardHosts ?? []).map((suffix) => `*${suffix}`)].join(', ')}, request host is ${hostname || '(none)'}`;
    case PATH: {
      const wanted = route.pathKind === PATH_PREFIX ? `a path under ${route.pathValue}` : route.pathKind === PATH_EXACT ? `path ${route.pathValue}` : `a path matching /${route.pathRegex!.source}/`;
      return `path mismatch: route wants ${wanted}, request path is ${path}`;
    }
    case METHOD:
      return `method mismatch: route wants ${route.methods!.join(', ')}, request method is ${method}`;
    default: {
      const matcher = failedHeader(route.headers!, headers)!;
      const value = headers.header(matcher.name);
      const wanted = matcher.present !== undefined ? (matcher.present ? 'present' : 'absent') : matcher.exact !== undefined ? `= ${matcher.exact}` : `matching /${matcher.regex!.source}/`;
      return `header mismatch: route wants ${matcher.name} ${wanted}, request has ${value === undefined ? 'none' : `${matcher.name}: ${value}`}`;
    }
  }
}

function hostMatches(route: CompiledRoute, hostname: string): boolean {
  if (route.exactHosts !== null) {
    for (const host of route.exactHosts) if (host === hostname) return true;
  }
  if (route.wildcardHosts !== null) {
    for (const suffix of route.wildcardHosts) {
      if (hostname.length > suffix.length && hostname.endsWith(suffix)) {
        const label = hostname.length - suffix.length;
        if (hostname.lastIndexOf('.', label - 1) < 0) return true;
      }
    }
  }
  return false;
}

/** The first header condition the request fails, or undefined when all hold. */
function failedHeader(matchers: readonly HeaderMatcher[], headers: HeaderSource): HeaderMatcher | undefined {
  for (const matcher of matchers) {
    const value = headers.header(matcher.name);
    if (matcher.present !== undefined) {
      if ((value !== undefined) !== matcher.present) return matcher;
    } else if (value === undefined) {
      return matcher;
    } else if (matcher.exact !== undefined) {
      if (value !== matcher.exact) return matcher;
    } else if (matcher.regex !== undefined && !matcher.regex.test(value)) {
      return matcher;
    }
  }
  return undefined;
}

function compileRoute(route: RouteConfig, index: number, filters: FilterChain | null): CompiledRoute {
  const match = route.match;
  const hosts = match.host === undefined ? [] : Array.isArray(match.host) ? match.host : [match.host];
  const exact = hosts.filter((host) => !host.startsWith('*.'));
  const wildcard = hosts.filter((host) => host.startsWith('*.')).map((host) => host.slice(1));
  let pathKind = PATH_ANY;
  let pathValue = '';
  let pathRegex: RegExp | null = null;
  if (match.path !== undefined) {
    pathKind = PATH_EXACT;
    pathValue = match.path;
  } else if (match.path_prefix !== undefined) {
    pathKind = match.path_prefix === '/' ? PATH_ANY : PATH_PREFIX;
    pathValue = match.path_prefix;
  } else if (match.path_regex !== undefined) {
    pathKind = PATH_REGEX;
    pathRegex = new RegExp(match.path_regex);
  }
  const headers = match.headers
    ? Object.entries(match.headers).map(([name, rule]): HeaderMatcher => ({
        name,
        exact: typeof rule === 'string' ? rule : undefined,
        regex: typeof rule === 'object' && 'regex' in rule ? new RegExp(rule.regex) : undefined,
        present: typeof rule === 'object' && 'present' in rule ? rule.present : undefined,
      }))
    : null;
  return {
    index,
    name: route.name ?? `#${index}`,
    exactHosts: exact.length > 0 ? exact : null,
    wildcardHosts: wildcard.length > 0 ? wildcard : null,
    pathKind,
    pathValue,
    pathRegex,
    methods: match.methods ?? null,
    headers,
    action: compileAction(route),
    filters,
  };
}
