// `switchyard explain` and GET /api/explain: what the edge would do with one request, without sending
// anything upstream. The listener (by the URL's scheme and port, or by name), every route's verdict up to
// the match (Router.explain: the very test the listeners run), the filters of the matched route, and the
// pool's backends in the policy's order — the usable ones as the balancer would hand them out (its pick,
// then what a retry would get, …; asked with peek(), which takes no turn and leases nothing, so explaining
// never moves round-robin state), then those it would skip (unhealthy, ejected, draining) — with what the
// policy does in one sentence.
import type { Config, ListenerConfig } from '../config/index.ts';
import type { BalanceInput, PoolRegistry, PoolStatus } from '../pool/index.ts';
import { hostnameOf } from './parse/request-head.ts';
import { Router } from './router/router.ts';
import { buildBuiltins, builtinFilterHost, builtinSettings } from './filters/index.ts';

export interface ExplainQuery {
  method: string;
  url: string;
  /** [name, value] pairs as the client would send them (a Host header overrides the URL's host). */
  headers: [string, string][];
  /** Take this listener instead of finding it by the URL's scheme and port. */
  listener?: string;
  /** The client address the balancer sees (ip_hash, consistent_hash: ip). */
  clientAddress?: string;
}

/** What the caller knows of the running edge; absent parts come from the config. */
export interface ExplainContext {
  config: Config;
  pools: PoolRegistry;
  /** Bound addresses by listener name (port 0 resolved); default: the config's. */
  addresses?: Record<string, { host: string; port: number }>;
  /** Health known (a running edge with its checkers) or not (a config alone). */
  healthKnown: boolean;
  /** The pools' status as the admin API shows it (workers' in-flight counts and ejections joined); default: the pool's own. */
  view?: readonly PoolStatus[];
  /** A note about where the answer comes from, shown first. */
  source: string;
}

export interface ExplainCandidate {
  backend: string;
  weight: number;
  /** healthy | unhealthy | ejected | draining … (the pool's state), or "unknown" without a running edge. */
  health: string;
  inflight: number | null;
  usable: boolean | null;
  /** Place in the policy's order among the usable ones (1: the pick, 2: a retry's pick, …); null when skipped or unknown. */
  rank: number | null;
}

export interface Explanation {
  source: string;
  request: { method: string; url: string; host: string; path: string };
  listener: { name: string; protocol: string; port: number; chosen_by: string } | null;
  routes: { route: string; index: number; verdict: string }[];
  route: string | null;
  action: string | null;
  filters: string[];
  /** The built-in filters a proxied request runs before `filters` (forwarded, request_id, …); [] for other actions. */
  builtin_filters: string[];
  pool: { name: string; balance: string; policy: string; candidates: ExplainCandidate[]; pick: string | null; note?: string } | null;
  problems: string[];
}

const headerless = (headers: [string, string][]) => (name: string) => headers.find(([key]) => key.toLowerCase() === name)?.[1];

export function explainRequest(query: ExplainQuery, context: ExplainContext): Explanation {
  const url = new URL(query.url);
  const readHeader = headerless(query.headers);
  const authority = readHeader('host') ?? url.host;
  const host = hostnameOf(authority);
  const path = url.pathname;
  const method = query.method.toUpperCase();
  const result: Explanation = { source: context.source, request: { method, url: query.url, host, path }, listener: null, routes: [], route: null, action: null, filters: [], builtin_filters: [], pool: null, problems: [] };
  const listener = findListener(url, query.listener, context, result.problems);
  if (!listener) return result;
  const port = context.addresses?.[listener.name]?.port ?? listener.listen.port;
  result.listener = { name: listener.name, protocol: listener.protocol, port, chosen_by: query.listener ? '--listener' : `${url.protocol.slice(0, -1)} on port ${port}` };
  if (!listener.routes) {
    result.problems.push(`listener ${listener.name} is a ${listener.protocol} listener: it has no routes`);
    return result;
  }
  // the filters are built only to name them: building does no I/O (a filter connects on first use)
  const filterHost = builtinFilterHost();
  const router = new Router(listener.routes, listener.middleware, { registry: filterHost.registry, env: filterHost.env(process.cwd(), process.cwd(), listener.name) });
  const headerSource = { header: readHeader };
  for (const verdict of router.explain(method, host, path, headerSource)) {
    result.routes.push({ route: verdict.route.name, index: verdict.route.index, verdict: verdict.reason });
    if (!verdict.matches) continue;
    const route = verdict.route;
    result.route = route.name;
    result.filters = [...(route.filters?.names ?? [])];
    const action = route.action;
    if (action.kind !== 'proxy') {
      result.action = action.kind === 'redirect' ? `redirect ${action.status}` : action.kind === 'respond' ? `respond ${action.status}` : action.kind === 'dns' ? 'dns over https' : 'static files';
      return result;
    }
    result.action = `proxy to pool ${action.pool}`;
    // whether a trace token exists is the running edge's business: server_timing is left out here
    result.builtin_filters = [...buildBuiltins(builtinSettings(listener, false)).names];
    result.pool = explainPool(action.pool, context, { clientAddress: query.clientAddress ?? '127.0.0.1', path, header: readHeader, cookie: cookieReader(readHeader('cookie')) });
  }
  if (result.route === null) result.problems.push('no route matches: the listener answers 404');
  return result;
}

function findListener(url: URL, name: string | undefined, context: ExplainContext, problems: string[]): ListenerConfig | undefined {
  const listeners = context.config.listeners;
  if (name !== undefined) {
    const named = listeners.find((listener) => listener.name === name);
    if (!named) problems.push(`no listener named ${name} (listeners: ${listeners.map((listener) => listener.name).join(', ')})`);
    return named;
  }
  const scheme = url.protocol.slice(0, -1);
  const port = Number(url.port || (scheme === 'https' ? 443 : 80));
  const protocols = scheme === 'https' ? ['https'] : ['http', 'h2c'];
  const found = listeners.filter((listener) => protocols.includes(listener.protocol) && (context.addresses?.[listener.name]?.port ?? listener.listen.port) === port);
  if (found.length === 1) return found[0];
  const known = listeners.map((listener) => `${listener.name} (${listener.protocol}, port ${context.addresses?.[listener.name]?.port ?? listener.listen.port})`).join(', ');
  problems.push(found.length === 0 ? `no ${protocols.join('/')} listener on port ${port}: give --listener NAME (listeners: ${known})` : `several listeners on port ${port}: give --listener NAME (${found.map((listener) => listener.name).join(', ')})`);
  return undefined;
}

function explainPool(name: string, context: ExplainContext, input: BalanceInput): Explanation['pool'] {
  const pool = context.pools.get(name);
  if (!pool) return { name, balance: '?', policy: '', candidates: [], pick: null, note: `pool ${name} does not exist` };
  const status: PoolStatus = context.view?.find((candidate) => candidate.name === name) ?? pool.status();
  const listed = status.backends.map(
    (backend): ExplainCandidate => ({
      backend: backend.id,
      weight: backend.weight,
      health: context.healthKnown ? backend.state : 'unknown',
      inflight: context.healthKnown ? backend.inflight : null,
      usable: context.healthKnown ? backend.state === 'healthy' : null,
      rank: null,
    }),
  );
  const candidates = inPolicyOrder(pool.preferenceOrder(input), listed, status, context);
  const peeked = pool.peek(input);
  const explained: NonNullable<Explanation['pool']> = { name, balance: status.balance, policy: pool.policySummary, candidates, pick: null };
  if (peeked === 'unsupported') explained.note = `the ${status.balance} policy cannot name its pick without taking a turn: no pick shown`;
  else if (peeked === undefined) explained.note = 'no usable backend: the request would get 503';
  // the head of the policy's order (least_conn under workers: by their summed in-flight counts)
  else explained.pick = candidates.find((candidate) => candidate.rank === 1)?.backend ?? peeked.id;
  const picked = candidates.find((candidate) => candidate.backend === explained.pick);
  if (picked?.usable === false) explained.note = `${picked.backend} is ${picked.health} in a worker: that worker would pick the next usable backend`;
  if (!context.healthKnown) explained.note = [explained.note, 'no running edge: health unknown, every backend counted usable'].filter(Boolean).join('; ');
  return explained;
}

/**
 * The candidates as the policy would hand them out: the usable ones in `order` (the pool's peek chain),
 * then those it skips, in the pool's order. least_conn under workers orders by the in-flight counts summed
 * over the workers (the view), as the primary's own pool carries no requests: what each worker sees is
 * its share of them.
 */
function inPolicyOrder(order: readonly { id: string }[] | 'unsupported', listed: ExplainCandidate[], status: PoolStatus, context: ExplainContext): ExplainCandidate[] {
  if (order === 'unsupported') return listed;
  const byId = new Map(listed.map((candidate) => [candidate.backend, candidate]));
  let ids = order.map((backend) => backend.id);
  if (status.balance === 'least_conn' && context.view !== undefined && context.healthKnown) {
    const load = new Map(status.backends.map((backend) => [backend.id, backend.inflight / Math.max(backend.effective_weight, 1e-9)]));
    ids = ids.map((id, index) => ({ id, index })).sort((a, b) => load.get(a.id)! - load.get(b.id)! || a.index - b.index).map((entry) => entry.id);
  }
  const ranked: ExplainCandidate[] = [];
  for (const id of ids) {
    const candidate = byId.get(id);
    if (candidate === undefined || (context.healthKnown && !candidate.usable)) continue;
    candidate.rank = ranked.length + 1;
    ranked.push(candidate);
  }
  return [...ranked, ...listed.filter((candidate) => candidate.rank === null)];
}

function cookieReader(header: string | undefined): (name: string) => string | undefined {
  return (name) => {
    for (const part of (header ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
    }
    return undefined;
  };
}

/** The explanation as text for a terminal. */
export function renderExplanation(explained: Explanation): string {
  const lines = [`${explained.request.method} ${explained.request.url}  (host ${explained.request.host || '(none)'}, path ${explained.request.path})`, `source: ${explained.source}`];
  if (explained.listener) lines.push(`listener: ${explained.listener.name} (${explained.listener.protocol}, port ${explained.listener.port}; chosen by ${explained.listener.chosen_by})`);
  if (explained.routes.length > 0) lines.push('routes:');
  for (const route of explained.routes) lines.push(`  ${route.route === `#${route.index}` ? route.route : `${route.route} (#${route.index})`}: ${route.verdict}`);
  if (explained.route !== null) lines.push(`route: ${explained.route} → ${explained.action}`);
  if (explained.builtin_filters.length > 0) lines.push(`built-in filters: ${explained.builtin_filters.join(' → ')} (before the route's filters)`);
  if (explained.route !== null) lines.push(`filters: ${explained.filters.length > 0 ? explained.filters.join(' → ') : '(none)'}`);
  const pool = explained.pool;
  if (pool) {
    lines.push(`pool: ${pool.name} (balance ${pool.balance})`);
    if (pool.policy) lines.push(`policy: ${pool.policy}`);
    lines.push('candidates, in the policy\'s order:');
    for (const candidate of pool.candidates) {
      const inflight = candidate.inflight === null ? '' : `, in flight ${candidate.inflight}`;
      const place = candidate.rank === 1 ? 'choice 1: picked' : candidate.rank !== null ? `choice ${candidate.rank}` : candidate.usable === false ? `skipped: ${candidate.health}` : '';
      lines.push(`  ${candidate.backend === pool.pick ? '→' : ' '} ${candidate.backend}  health ${candidate.health}, weight ${candidate.weight}${inflight}${place ? `  (${place})` : ''}`);
    }
    lines.push(`pick: ${pool.pick ?? '(none)'}`);
    if (pool.note) lines.push(`note: ${pool.note}`);
  }
  for (const problem of explained.problems) lines.push(`problem: ${problem}`);
  return lines.join('\n') + '\n';
}
