// Keys that would validate and then do nothing: settings of another kind of listener, pool or health
// check, route fields its action never reads, and routes an earlier route always takes first. Each is
// refused with the reason, so a config means what it says. Keys with defaults are judged by what the file
// itself says (`given`), not by the defaults the schema filled in.
import type { Config, ListenerConfig, MiddlewareSettings, RouteConfig } from './schema/index.ts';
import type { ConfigIssue } from './cross-check.ts';
import { covers, describeMatch } from './route-shadowing.ts';

type Path = (string | number)[];
/** True when the config file itself sets this key. */
export type Given = (path: Path) => boolean;

const l7Protocols = new Set(['http', 'https', 'h2c']);

/** What an L4 listener reads of timeouts and limits; the other keys there are HTTP settings or the other L4 kind's. */
const l4ListenerKeys: Readonly<Record<'tcp' | 'udp', Readonly<Record<'timeouts' | 'limits', readonly string[]>>>> = {
  tcp: { timeouts: ['upstream_connect', 'tunnel_idle', 'proxy_protocol'], limits: ['max_connections'] },
  udp: { timeouts: ['udp_idle'], limits: ['max_flows'] },
};
const notForL4 = ['forwarded', 'http2', 'response_headers', 'request_buffering', 'middleware'] as const;
/** The key of a udp listener's timeouts and of its limits that no other kind reads. */
const udpOnly = { timeouts: 'udp_idle', limits: 'max_flows' } as const;

function listenerIssues(config: Config, listener: ListenerConfig, index: number, given: Given): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = (...keys: Path): Path => ['listeners', index, ...keys];
  const kind = listener.protocol;
  for (const key of forwardProxyOnly) {
    if (kind !== 'forward_proxy' && given(at(key))) issues.push({ path: at(key), message: `expected ${key} only on a forward_proxy listener, got protocol: ${kind}` });
  }
  if (kind === 'forward_proxy') issues.push(...forwardProxyIssues(listener, at, given));
  if (listener.accept_proxy_protocol === undefined && given(at('timeouts', 'proxy_protocol'))) {
    issues.push({ path: at('timeouts', 'proxy_protocol'), message: 'expected timeouts.proxy_protocol only with accept_proxy_protocol (no connection reads a PROXY header without it)' });
  }
  if (!listener.http3.enabled) {
    for (const key of ['max_concurrent_streams', 'idle_timeout', 'qpack_table_size', 'qpack_blocked_streams', 'retry', 'retry_above', 'alt_svc_max_age']) {
      if (given(at('http3', key))) issues.push({ path: at('http3', key), message: `expected http3.${key} only with HTTP/3 enabled, got http3.enabled: false` });
    }
  }
  if (listener.tls && listener.tls.certificates.length === 0 && !listener.tls.self_signed) {
    issues.push({ path: at('tls'), message: 'expected certificates or self_signed: true, got neither (nothing to serve TLS with)' });
  }
  if (l7Protocols.has(kind)) {
    if (listener.proxy_protocol !== undefined) {
      issues.push({ path: at('proxy_protocol'), message: `expected proxy_protocol only on a tcp listener, got protocol: ${kind} (it is sent to backends of L4 pools; an HTTP listener sends X-Forwarded-For instead; to read PROXY headers from a load balancer in front, use accept_proxy_protocol)` });
    }
    if (listener.pool !== undefined) {
      issues.push({ path: at('pool'), message: `expected no pool on a listener with protocol: ${kind} (routes choose the pool: routes: [{ pool: ${listener.pool} }])` });
    }
    if (kind === 'http' && given(at('http2'))) {
      issues.push({ path: at('http2'), message: 'expected no http2 settings on an http listener (it speaks HTTP/1.1 only; use protocol: https or h2c)' });
    }
    if (kind === 'https' && listener.tls && !listener.tls.alpn.includes('h2') && given(at('http2'))) {
      issues.push({ path: at('http2'), message: 'expected no http2 settings on a listener whose tls.alpn leaves out h2 (it speaks HTTP/1.1 only)' });
    }
    listener.routes?.forEach((route, routeIndex) => {
      issues.push(...routeIssues(route, at('routes', routeIndex), given));
      const protocol = route.pool !== undefined ? config.pools[route.pool]?.protocol : undefined;
      if (route.request_buffering !== undefined && protocol !== undefined && protocol !== 'http1') {
        issues.push({ path: at('routes', routeIndex, 'request_buffering'), message: `expected request_buffering only on a route to an http1 pool, got pool ${route.pool} with protocol: ${protocol} (requests to HTTP/2 pools are streamed on a multiplexed session)` });
      }
    });
    issues.push(...shadowedRoutes(listener.routes ?? [], at('routes')));
  }
  if (kind === 'tcp' || kind === 'udp') {
    const what = kind === 'tcp' ? 'bytes are piped as they are' : 'datagrams are relayed as they are';
    for (const key of notForL4) {
      if (given(at(key))) issues.push({ path: at(key), message: `expected no ${key} settings on a ${kind} listener (${what})` });
    }
    for (const section of ['timeouts', 'limits'] as const) {
      const keys = l4ListenerKeys[kind][section];
      for (const key of Object.keys(listener[section])) {
        if (!keys.includes(key) && given(at(section, key))) {
          const why = kind === 'udp' ? 'a tcp or HTTP setting' : key === udpOnly[section] ? 'a udp setting' : 'an HTTP setting';
          issues.push({ path: at(section, key), message: `expected only ${keys.join(', ')} in ${section} of a ${kind} listener, got ${key} (${why})` });
        }
      }
    }
  } else {
    for (const section of ['timeouts', 'limits'] as const) {
      const key = udpOnly[section];
      if (given(at(section, key))) issues.push({ path: at(section, key), message: `expected ${key} only on a udp listener, got protocol: ${kind}` });
    }
  }
  if (kind === 'udp') {
    if (listener.proxy_protocol === 'v1') {
      issues.push({ path: at('proxy_protocol'), message: 'expected proxy_protocol: v2 on a udp listener, got v1 (PROXY v1 has no datagram form)' });
    }
    if (listener.accept_proxy_protocol !== undefined) {
      issues.push({ path: at('accept_proxy_protocol'), message: 'expected no accept_proxy_protocol on a udp listener (it reads PROXY headers of TCP connections)' });
    }
  }
  return issues;
}

/** Keys only a forward_proxy listener reads. */
const forwardProxyOnly = ['allow', 'proxy_auth', 'anonymous'] as const;
/** What a forward_proxy listener reads of timeouts and limits (docs/forward-proxy.md). */
const forwardProxyKeys: Readonly<Record<'timeouts' | 'limits', readonly string[]>> = {
  timeouts: ['header', 'idle', 'body', 'upstream_connect', 'upstream_response', 'tunnel_idle', 'proxy_protocol'],
  limits: ['max_header_size', 'max_body_size', 'max_connections', 'max_requests_per_connection'],
};
const notForForwardProxy: Readonly<Record<string, string>> = {
  pool: 'the destination is the request\'s own URI or CONNECT target',
  proxy_protocol: 'it is sent to backends of L4 pools',
  forwarded: 'X-Forwarded-For is sent unless anonymous: true; the client is the TCP peer or the one a PROXY header names',
  request_buffering: 'request bodies are streamed to the destination',
  http2: 'clients speak HTTP/1.1 to a forward proxy',
  response_headers: 'responses are relayed as the destination sent them, less hop-by-hop fields',
};
/**
 * Filters a forward proxy's `middleware` refuses, and why (src/forward/filters.ts): the others (cache,
 * rate_limit, headers, compress, waf on heads) act on the proxied request as they do behind a route.
 */
const notForForwardProxyFilters: Readonly<Record<string, string>> = {
  cors: 'CORS answers for an origin, and a forward proxy is not one',
  basic_auth: 'it authenticates an origin\'s users; a forward proxy authenticates with proxy_auth',
  jwt: 'it authenticates an origin\'s users; a forward proxy authenticates with proxy_auth',
  forward_auth: 'it authenticates an origin\'s users; a forward proxy authenticates with proxy_auth',
  oidc: 'a login session belongs to an origin, not to a forward proxy',
  sticky: 'it picks a pool\'s backend; a forward proxy\'s destination is the request\'s own URI',
};

function forwardProxyIssues(listener: ListenerConfig, at: (...keys: Path) => Path, given: Given): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [key, why] of Object.entries(notForForwardProxy)) {
    if (given(at(key))) issues.push({ path: at(key), message: `expected no ${key} on a forward_proxy listener (${why})` });
  }
  listener.middleware?.forEach((entry, i) => {
    const why = notForForwardProxyFilters[entry.name];
    if (why !== undefined) issues.push({ path: at('middleware', i, entry.name), message: `expected no ${entry.name} in a forward_proxy listener's middleware (${why})` });
    // the proxy streams request bodies as they come, so no request filter gets to read one first
    if (entry.name === 'waf' && (entry.settings as MiddlewareSettings['waf']).body !== undefined) issues.push({ path: at('middleware', i, 'waf', 'body'), message: 'expected no waf body inspection on a forward_proxy listener (request bodies are streamed to the destination, never read ahead)' });
  });
  for (const section of ['timeouts', 'limits'] as const) {
    const keys = forwardProxyKeys[section];
    for (const key of Object.keys(listener[section])) {
      // udp_idle and max_flows get the udp-only message below
      if (!keys.includes(key) && key !== udpOnly[section] && given(at(section, key))) issues.push({ path: at(section, key), message: `expected only ${keys.join(', ')} in ${section} of a forward_proxy listener, got ${key}` });
    }
  }
  return issues;
}

function routeIssues(route: RouteConfig, at: Path, given: Given): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const paths = (['path', 'path_prefix', 'path_regex'] as const).filter((key) => route.match[key] !== undefined);
  if (paths.length > 1) issues.push({ path: [...at, 'match'], message: `expected at most one of path, path_prefix and path_regex, got ${paths.join(' and ')}` });
  const action = route.pool !== undefined ? 'pool' : route.redirect !== undefined ? 'redirect' : route.respond !== undefined ? 'respond' : route.dns !== undefined ? 'dns' : 'static';
  if (action === 'redirect' || action === 'respond' || action === 'dns') {
    for (const key of ['strip_prefix', 'rewrite'] as const) {
      if (route[key] !== undefined) issues.push({ path: [...at, key], message: `expected ${key} only on pool and static routes, got a ${action} route` });
    }
  }
  if (action !== 'pool') {
    if (given([...at, 'upstream_host'])) issues.push({ path: [...at, 'upstream_host'], message: `expected upstream_host only on a pool route, got a ${action} route` });
    if (route.timeouts !== undefined) issues.push({ path: [...at, 'timeouts'], message: `expected timeouts only on a pool route, got a ${action} route` });
  }
  if (route.strip_prefix === true && route.match.path_prefix === undefined) {
    issues.push({ path: [...at, 'strip_prefix'], message: 'expected a match.path_prefix to strip with strip_prefix: true, got none (or give the prefix: strip_prefix: /api)' });
  }
  const redirect = route.redirect;
  if (redirect) {
    const parts = (['scheme', 'host', 'port'] as const).filter((key) => redirect[key] !== undefined);
    if (redirect.to !== undefined && parts.length > 0) {
      issues.push({ path: [...at, 'redirect', parts[0]], message: `expected either to or scheme/host/port, got to and ${parts.join(', ')} (to is used as it is)` });
    }
    if (redirect.to === undefined && parts.length === 0 && redirect.keep_path) {
      issues.push({ path: [...at, 'redirect'], message: 'expected to, scheme, host or port, got none (every request would be redirected to itself)' });
    }
  }
  return issues;
}

/** Routes that never match because an earlier route takes every request they would. */
function shadowedRoutes(routes: readonly RouteConfig[], at: Path): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  routes.forEach((route, index) => {
    const earlier = routes.slice(0, index).findIndex((other) => covers(other.match, route.match));
    if (earlier >= 0) {
      const name = routes[earlier].name ? ` (${routes[earlier].name})` : '';
      issues.push({
        path: [...at, index, 'match'],
        message: `expected a route that can match, got one shadowed by routes[${earlier}]${name}, which matches ${describeMatch(routes[earlier].match)} first (first match wins: move this route above it)`,
      });
    }
  });
  return issues;
}

const healthKeysOf: Readonly<Record<string, readonly string[]>> = {
  tcp: [],
  http: ['method', 'path', 'host', 'expect', 'body_contains'],
  grpc: ['host', 'service'],
  dns: ['query', 'qtype'],
};
const healthTypeKeys = ['method', 'path', 'host', 'expect', 'body_contains', 'service', 'query', 'qtype'];

function poolIssues(config: Config, given: Given): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [name, pool] of Object.entries(config.pools)) {
    const at = (...keys: Path): Path => ['pools', name, ...keys];
    if (pool.tls && pool.protocol === 'h2c') {
      issues.push({ path: at('tls'), message: 'expected no tls on an h2c pool (h2c is HTTP/2 in cleartext); use protocol: h2 for HTTP/2 over TLS' });
    }
    if (pool.protocol !== 'http1') {
      for (const key of ['max_connections', 'connection_queue']) {
        if (given(at(key))) issues.push({ path: at(key), message: `expected no ${key} on a pool with protocol: ${pool.protocol} (it bounds HTTP/1.1 connections; HTTP/2 multiplexes one session per backend)` });
      }
      if (given(at('keepalive', 'max_idle'))) {
        issues.push({ path: at('keepalive', 'max_idle'), message: `expected only idle_timeout in keepalive of a pool with protocol: ${pool.protocol}, got max_idle (one multiplexed session per backend)` });
      }
    }
    if (pool.hash_key && pool.balance !== 'consistent_hash') {
      issues.push({ path: at('hash_key'), message: `expected hash_key only with balance: consistent_hash, got balance: ${pool.balance}` });
    }
    if (pool.health) {
      const type = pool.health.type;
      for (const key of healthTypeKeys) {
        if (!healthKeysOf[type].includes(key) && given(at('health', key))) {
          issues.push({ path: at('health', key), message: `expected no ${key} in a health check of type: ${type} (it is used by ${Object.keys(healthKeysOf).filter((other) => healthKeysOf[other].includes(key)).join(' and ')} checks)` });
        }
      }
    }
  }
  return issues;
}

/** Record fields the record's type does not use: priority is MX's and SRV's, weight and port SRV's. */
function dnsIssues(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  config.dns?.zones.forEach((zone, zoneIndex) => {
    zone.records.forEach((record, recordIndex) => {
      for (const key of ['priority', 'weight', 'port'] as const) {
        const usedBy = key === 'priority' ? ['MX', 'SRV'] : ['SRV'];
        if (record[key] !== undefined && !usedBy.includes(record.type)) {
          issues.push({ path: ['dns', 'zones', zoneIndex, 'records', recordIndex, key], message: `expected ${key} only on ${usedBy.join(' and ')} records, got type: ${record.type}` });
        }
      }
    });
  });
  return issues;
}

export function inertKeyIssues(config: Config, given: Given): ConfigIssue[] {
  return [...config.listeners.flatMap((listener, index) => listenerIssues(config, listener, index, given)), ...poolIssues(config, given), ...dnsIssues(config)];
}
