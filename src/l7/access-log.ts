// The access log: one JSON line per request (the only per-request log line). Phase durations are in
// milliseconds with 3 decimals, measured from the request's first byte (or accept, for the first
// request of a connection): headers read, upstream connected, upstream first byte, done.
import type { Logger } from '../core/index.ts';
import type { ProxyExchange } from './exchange.ts';

function ms(from: number, to: number): number | undefined {
  if (to === 0) return undefined;
  return Math.round((to - from) * 1000) / 1000;
}

export function writeAccessLog(log: Logger, ex: ProxyExchange, now: number): void {
  const head = ex.head;
  const lease = ex.lease;
  log.info({
    request_id: ex.requestId || undefined,
    client: ex.clientAddress,
    method: head.method,
    host: head.authority,
    path: head.path,
    status: ex.status,
    bytes_in: ex.bytesIn,
    bytes_out: ex.bytesOut,
    route: ex.route?.name,
    pool: ex.pool?.name,
    backend: lease?.backend.id,
    headers_ms: ms(ex.tStart, ex.tHead),
    connect_ms: ms(ex.tStart, ex.tConnected),
    first_byte_ms: ms(ex.tStart, ex.tFirstByte),
    total_ms: ms(ex.tStart, now),
  });
}
