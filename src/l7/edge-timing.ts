// The edge's phases in Server-Timing, for requests authorised by the admin token (x-switchyard-trace):
// route matched, balancing decision, upstream connect, wait for the upstream's first byte. Each entry has
// `dur` and a non-standard `start` (ms since the request arrived) that `switchyard trace` uses to place it
// on the waterfall. The upstream's own Server-Timing header stays in the response beside this one.
import type { ProxyExchange } from './exchange.ts';
import { balanceReason } from './trace-context.ts';

const ms = (value: number): string => (Math.round(value * 1000) / 1000).toString();

/** A quoted-string for a `desc` parameter (route names and addresses rarely need escaping). */
function quoted(text: string): string {
  return '"' + text.replace(/[\\"]/g, '\\$&').replace(/[^\x20-\x7e]/g, '?') + '"';
}

/**
 * Response header lines ("name: value\r\n") for a traced request, built when the upstream's final
 * response head arrives. Header values stay ASCII: the arrow is written "->" (a non-ASCII character
 * would reach most clients as mojibake, header values being latin1 on the wire).
 */
export function edgeTimingLines(ex: ProxyExchange): string {
  const t0 = ex.tStart;
  const route = ex.route?.name ?? '';
  const lease = ex.lease;
  const config = ex.pool?.poolConfig;
  let entries = `edge_route;desc=${quoted(route)};dur=${ms(ex.tHead - t0)};start=0`;
  if (lease !== null && ex.tAttempt !== 0) {
    const policy = config?.balance ?? 'pool';
    let reason = balanceReason(config?.balance, config?.hash_key);
    if (ex.retryReason !== '') reason = `retry after ${ex.retryReason}; tried ${[...(ex.tried ?? [])].join(' ')}`;
    else if (ex.staleRetries > 0) reason += '; resent on a fresh connection';
    entries += `, edge_balance;desc=${quoted(`${policy} -> ${lease.backend.id} (${reason})`)};dur=0;start=${ms(ex.tAttempt - t0)}`;
    if (ex.tConnected !== 0) {
      const reused = ex.reusedUpstream ? 'reused connection' : 'new connection';
      entries += `, edge_connect;desc="${reused}";dur=${ms(ex.tConnected - ex.tAttempt)};start=${ms(ex.tAttempt - t0)}`;
      if (ex.tFirstByte !== 0) entries += `, edge_upstream;desc="to first byte";dur=${ms(ex.tFirstByte - ex.tConnected)};start=${ms(ex.tConnected - t0)}`;
    }
  }
  return `server-timing: ${entries}\r\ntraceresponse: 00-${ex.traceId}-${ex.spanId}-${ex.traceFlags}\r\n`;
}
