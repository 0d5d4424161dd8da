// The tries before the last one of a retried request, as every proxy path notes them (HTTP/1.1 exchange,
// HTTP/2 bridge, the HTTP/2 upstream core): the recent-requests ring shows each as its own waterfall bar.
import type { EarlierAttempt } from './types.ts';

/** Appends a failed try to `list` (made on the first retry: requests that are not retried allocate nothing). */
export function noteAttempt(list: EarlierAttempt[] | null, backend: string, tPick: number, tConnected: number, tFirstByte: number, tEnd: number, outcome: string): EarlierAttempt[] {
  const out = list ?? [];
  out.push({ backend, tPick, tConnected, tFirstByte, tEnd, outcome });
  return out;
}
