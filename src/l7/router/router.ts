// The router: a listener's routes compiled once into flat matchers; first match wins.
// Per request it compares strings already made by the parser and allocates nothing unless a route
// matches on headers (then it reads the header value from the head).
import type { MiddlewareConfig, RouteConfig } from '../../config/index.ts';
import { compileAction, type RouteAction } from './actions.ts';
import { builtinFilters, buildChain, type FilterChain, type FilterRegistry } from '../filters/index.ts';

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

  /** `middleware`: the listener's default filters, run before each proxied route's own. */
  constructor(routes: readonly RouteConfig[], middleware?: MiddlewareConfig, registry: FilterRegistry = builtinFilters()) {
    this.routes = routes.map((route, index) => compileRoute(route, index, route.pool !== undefined ? buildChain(registry, middleware, route.middleware) : null));
  }

  /** First matching route or null. `hostname` is lower-case without port; `path` excludes the query. */
  match(method: string, hostname: string, path: string, headers: HeaderSource): CompiledRoute | null {
    const routes = this.routes;
    for (let r = 0; r < routes.length; r++) {
      const route = routes[r];
      if (route.exactHosts !== null || route.wildcardHosts !== null) {
        if (!hostMatches(route, hostname)) continue;
      }
      switch (route.pathKind) {
        case PATH_PREFIX:
          if (!path.startsWith(route.pathValue)) continue;
          break;
        case PATH_EXACT:
          if (path !== route.pathValue) continue;
          break;
        case PATH_REGEX:
          if (!route.pathRegex!.test(path)) continue;
          break;
      }
      if (route.methods !== null && !route.methods.includes(method)) continue;
      if (route.headers !== null && !headersMatch(route.headers, headers)) continue;
      return route;
    }
    return null;
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

function headersMatch(matchers: readonly HeaderMatcher[], headers: HeaderSource): boolean {
  for (const matcher of matchers) {
    const value = headers.header(matcher.name);
    if (matcher.present !== undefined) {
      if ((value !== undefined) !== matcher.present) return false;
    } else if (value === undefined) {
      return false;
    } else if (matcher.exact !== undefined) {
      if (value !== matcher.exact) return false;
    } else if (matcher.regex !== undefined && !matcher.regex.test(value)) {
      return false;
    }
  }
  return true;
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
