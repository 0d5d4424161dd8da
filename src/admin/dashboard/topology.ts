// The config side of the dashboard's topology: each listener with its routes, each route's match in one
// line and where it goes (a pool, or the edge's own redirect/respond/static answer). GET /api/status
// carries it as `topology` (the running config's, so it follows reloads); pools and backends come from
// the live pool view.
import type { ListenerConfig, MatchConfig } from '../../config/index.ts';

export interface RouteTopology {
  name?: string;
  /** The match in one line, e.g. `host api.example.com path_prefix /v1`; `*` matches everything. */
  match: string;
  /** Where the route sends a request: `pool NAME`, `redirect`, `respond 404`, `static`. */
  action: string;
  pool?: string;
}

export interface ListenerTopology {
  name: string;
  protocol: string;
  listen: string;
  /** tcp/udp listeners pipe to one pool; http ones route. */
  pool?: string;
  routes: RouteTopology[];
}

function describeMatch(match: MatchConfig): string {
  const parts: string[] = [];
  if (match.host !== undefined) parts.push(`host ${[match.host].flat().join(',')}`);
  if (match.path !== undefined) parts.push(`path ${match.path}`);
  if (match.path_prefix !== undefined) parts.push(`path_prefix ${match.path_prefix}`);
  if (match.path_regex !== undefined) parts.push(`path_regex ${match.path_regex}`);
  if (match.methods !== undefined) parts.push(`methods ${match.methods.join(',')}`);
  if (match.headers !== undefined) parts.push(`headers ${Object.keys(match.headers).join(',')}`);
  return parts.length === 0 ? '*' : parts.join(' ');
}

export function configTopology(listeners: readonly ListenerConfig[]): ListenerTopology[] {
  return listeners.map((listener) => ({
    name: listener.name,
    protocol: listener.protocol,
    listen: `${listener.listen.host}:${listener.listen.port}`,
    pool: listener.pool,
    routes: (listener.routes ?? []).map((route) => ({
      name: route.name,
      match: describeMatch(route.match),
      pool: route.pool,
      action: route.pool !== undefined ? `pool ${route.pool}` : route.redirect ? 'redirect' : route.respond ? `respond ${route.respond.status}` : route.dns ? 'dns over https' : 'static',
    })),
  }));
}
