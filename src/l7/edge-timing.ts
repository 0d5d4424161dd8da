// The edge's phases in Server-Timing, for requests authorised by the admin token (x-switchyard-trace):
// route matched, balancing decision, upstream connect, wait for the upstream's first byte. Each entry has
// `dur` and a non-standard `start` (ms since the request arrived) that `switchyard trace` uses to place it
// on the waterfall. The upstream's own Server-Timing header stays in the response beside this one. The
// built-in `server_timing` filter writes it (filters/builtin/server-timing.ts).
import type { ProxyExchange } from './exchange.ts';
import { balanceReason } from './trace-context.ts';

const ms = (value: number): string => (Math.round(value * 1000) / 1000).toString();

/** A quoted-string for a `desc` parameter (route names and addresses rarely need escaping). */
function quoted(text: string): string {
  return '"' + text.replace(/[\\"]/g, '\\$&').replace(/[^\x20-\x7e]/g, '?') + '"';
}

/** What the Server-Timing entries are computed from (the HTTP/1.1 exchange and the HTTP/2 bridge). */
export interface EdgeTimingSource {
  /** When the request arrived (its first byte, not the connection's accept): `start` offsets count from it. */
  readonly tStart: number;
  readonly tHead: number;
  /** When the try picked its backend, 0 when there was none. */
  readonly tAttempt: number;
  readonly tConnected: number;
  readonly tFirstByte: number;
  readonly routeName: string;
  readonly pool: { readonly poolConfig?: { balance: string; hash_key?: string } } | null;
  readonly backendId: string | undefined;
  readonly reusedUpstream: boolean;
  /** Why the last try is a retry ('' when it is the first). */
  readonly retryReason: string;
  readonly tried: ReadonlySet<string> | null;
  readonly staleRetries: number;
}

/**
 * The edge's Server-Timing value for a traced request, built when the upstream's final response head
 * arrives. ASCII only: the arrow is written "->" (a non-ASCII character would reach most clients as
 * mojibake, header values being latin1 on the wire).
 */
export function edgeServerTiming(src: EdgeTimingSource): string {
  const t0 = src.tStart;
  let entries = `edge_route;desc=${quoted(src.routeName)};dur=${ms(src.tHead - t0)};start=0`;
  if (src.backendId !== undefined && src.tAttempt !== 0) {
    const config = src.pool?.poolConfig;
    const policy = config?.balance ?? 'pool';
    let reason = balanceReason(config?.balance, config?.hash_key);
    if (src.retryReason !== '') reason = `retry after ${src.retryReason}; tried ${[...(src.tried ?? [])].join(' ')}`;
    else if (src.staleRetries > 0) reason += '; resent on a fresh connection';
    entries += `, edge_balance;desc=${quoted(`${policy} -> ${src.backendId} (${reason})`)};dur=0;start=${ms(src.tAttempt - t0)}`;
    if (src.tConnected !== 0) {
      const reused = src.reusedUpstream ? 'reused connection' : 'new connection';
      entries += `, edge_connect;desc="${reused}";dur=${ms(src.tConnected - src.tAttempt)};start=${ms(src.tAttempt - t0)}`;
      if (src.tFirstByte !== 0) entries += `, edge_upstream;desc="to first byte";dur=${ms(src.tFirstByte - src.tConnected)};start=${ms(src.tConnected - t0)}`;
    }
  }
  return entries;
}

/** The edge's Server-Timing value for a traced HTTP/1.1 request (EdgeRequest.edgeTiming). */
export function edgeTimingOf(ex: ProxyExchange): string {
  const src: EdgeTimingSource = {
    tStart: ex.tArrived,
    tHead: ex.tHead,
    tAttempt: ex.tAttempt,
    tConnected: ex.tConnected,
    tFirstByte: ex.tFirstByte,
    routeName: ex.route?.name ?? '',
    pool: ex.pool,
    backendId: ex.lease?.backend.id,
    reusedUpstream: ex.reusedUpstream,
    retryReason: ex.retryReason,
    tried: ex.tried,
    staleRetries: ex.staleRetries,
  };
  return edgeServerTiming(src);
}
