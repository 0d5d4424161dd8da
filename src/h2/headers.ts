// Header rules at the HTTP/2 boundary. HTTP/2 forbids connection-specific fields (RFC 9113 §8.2.2), so
// they are dropped in both directions; `te` may only say "trailers" (gRPC needs it to reach the upstream).
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';

/** Connection-specific fields: an HTTP/2 message that carries one is malformed (RFC 9113 §8.2.2). */
export const connectionSpecific: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Hop-by-hop fields: never forwarded from one hop to the next. */
export const hopByHop: ReadonlySet<string> = new Set([...connectionSpecific, 'proxy-authenticate', 'proxy-authorization', 'http2-settings']);

/** Whether a field may be copied to the next hop; `te` only as "trailers". */
export function forwardable(name: string, value: string | string[] | undefined): boolean {
  if (name.charCodeAt(0) === 58 /* : */) return false;
  if (hopByHop.has(name)) return false;
  if (name === 'te') return value === 'trailers';
  return true;
}

/**
 * Appends to `out` the fields of a flat [name, value, …] list (the L7 exchange form) that may go to an
 * HTTP/2 client: names lower-cased, hop-by-hop fields and `te` dropped, repeated names (set-cookie) kept
 * as repeated fields. `extra` fields are added when the list does not carry them. Returns `out`.
 */
export function appendResponseFields(out: string[], flat: readonly string[], extra?: Readonly<Record<string, string>>): string[] {
  const start = out.length;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i].toLowerCase();
    if (!forwardable(name, flat[i + 1]) || name === 'te') continue;
    out.push(name, flat[i + 1]);
  }
  if (extra) {
    for (const name in extra) {
      let present = false;
      for (let i = start; i < out.length && !present; i += 2) present = out[i] === name;
      if (!present) out.push(name, extra[name]);
    }
  }
  return out;
}

/** Response headers as node:http2's respond() takes them as is: [':status', status, name, value, …]. */
export function responseHeadersFromFlat(status: number, flat: readonly string[], extra?: Readonly<Record<string, string>>): string[] {
  return appendResponseFields([':status', String(status)], flat, extra);
}

/** Copies the forwardable fields of a header object (an upstream response or trailers). */
export function forwardableHeaders(headers: IncomingHttpHeaders, into: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || !forwardable(name, value)) continue;
    into[name] = value;
  }
  return into;
}

/** Flat [name, value, …] request fields from node:http2's raw headers: no pseudo-headers, cookies joined. */
export function requestFieldsFromRaw(raw: readonly string[]): { fields: string[]; contentLength: number } {
  const fields: string[] = [];
  let cookie: string | undefined;
  let contentLength = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name.charCodeAt(0) === 58) continue;
    if (name === 'cookie') {
      // HTTP/2 may split cookies into several fields; HTTP/1.1 wants one, joined with "; " (RFC 9113 §8.2.3)
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      continue;
    }
    if (!forwardable(name, value) && name !== 'te') continue;
    if (name === 'content-length') contentLength = Number(value);
    fields.push(name, value);
  }
  if (cookie !== undefined) fields.push('cookie', cookie);
  return { fields, contentLength };
}
