// Head rewriting: the request head going upstream and the response head going downstream are built
// once each, into one buffer that also carries the first body bytes, so each crosses the kernel in one
// write. Kept header lines are copied as byte runs from the parsed head (no per-header strings).
import { type RequestHead, H_CONNECTION, H_HOP, H_UPGRADE, H_CONTENT_LENGTH, H_TRANSFER_ENCODING, H_HOST, H_TRACEPARENT, H_SY_TRACE } from './parse/request-head.ts';
import { type ResponseHead, H_HIDDEN } from './parse/response-head.ts';
import { equalsLower } from './parse/chars.ts';

/** Bit for a header kind in a drop mask. */
export const bit = (kind: number): number => 1 << kind;

/**
 * Kinds always removed from a request going upstream: the framing (Content-Length, Transfer-Encoding) and
 * traceparent are re-added by the edge (the framing it derived from the body it parsed, the traceparent
 * with the edge's span), x-switchyard-trace never leaves the edge.
 */
export const REQUEST_ALWAYS_DROP = bit(H_CONNECTION) | bit(H_HOP) | bit(H_CONTENT_LENGTH) | bit(H_TRANSFER_ENCODING) | bit(H_TRACEPARENT) | bit(H_SY_TRACE);
/** Kinds always removed from a response going downstream. */
export const RESPONSE_ALWAYS_DROP = bit(H_CONNECTION) | bit(H_HOP) | bit(H_HIDDEN) | bit(H_UPGRADE);

/** Whether the field name raw[ns, ne) is one of `names` (lower-case): the Connection tokens, or the names filters removed. */
function listed(raw: Buffer, ns: number, ne: number, names: readonly string[] | null): boolean {
  if (names === null) return false;
  for (const name of names) if (name.length === ne - ns && equalsLower(raw, ns, name)) return true;
  return false;
}

/**
 * Request head for the upstream: request line (`target` null keeps the client's when it was origin-form
 * HTTP/1.1), kept headers (minus `dropMask` kinds, the Connection tokens and `dropNames`), `extra` (complete
 * "name: value\r\n" lines), the final CRLF, then body[bs, be).
 */
export function buildUpstreamHead(head: RequestHead, target: string | null, dropMask: number, extra: string, body: Buffer | null, bs: number, be: number, dropNames: readonly string[] | null = null): Buffer {
  const raw = head.raw;
  const o = head.offsets;
  const kinds = head.kinds;
  const count = head.headerCount;
  const keepLine = target === null && head.minor === 1 && !head.absoluteForm;
  const requestLine = keepLine ? '' : `${head.method} ${target ?? head.target} HTTP/1.1\r\n`;
  const bodyLength = body === null ? 0 : be - bs;
  const out = Buffer.allocUnsafe(raw.length + requestLine.length + extra.length + bodyLength);
  let w = 0;
  let runStart: number;
  if (keepLine) {
    runStart = 0;
  } else {
    w += out.write(requestLine, 0, 'latin1');
    runStart = head.headersStart;
  }
  const tokens = head.connectionTokens;
  for (let i = 0; i < count; i++) {
    const ns = o[i * 4];
    if ((dropMask & (1 << kinds[i])) !== 0 || listed(raw, ns, o[i * 4 + 1], tokens) || listed(raw, ns, o[i * 4 + 1], dropNames)) {
      if (ns > runStart) w += raw.copy(out, w, runStart, ns);
      runStart = i + 1 < count ? o[(i + 1) * 4] : raw.length - 2;
    }
  }
  const headersEnd = raw.length - 2;
  if (headersEnd > runStart) w += raw.copy(out, w, runStart, headersEnd);
  if (extra.length > 0) w += out.write(extra, w, 'latin1');
  out[w++] = 13;
  out[w++] = 10;
  if (bodyLength > 0) w += body!.copy(out, w, bs, be);
  return w === out.length ? out : out.subarray(0, w);
}

/**
 * Response head for the downstream: "HTTP/1.1" status line, kept headers minus `dropMask` kinds, the
 * names listed in the upstream's Connection and `dropNames`, `extra` lines, CRLF, then body[bs, be).
 */
export function buildDownstreamHead(head: ResponseHead, dropMask: number, extra: string, body: Buffer | null, bs: number, be: number, dropNames: readonly string[] | null = null): Buffer {
  const raw = head.raw;
  const o = head.offsets;
  const kinds = head.kinds;
  const count = head.headerCount;
  const length = head.length;
  const bodyLength = body === null ? 0 : be - bs;
  const out = Buffer.allocUnsafe(length + extra.length + bodyLength);
  let w = 0;
  let runStart = 0;
  if (head.minor !== 1) {
    // relay as HTTP/1.1: we speak 1.1 downstream whatever the upstream spoke
    w += raw.copy(out, 0, 0, head.headersStart);
    out[7] = 0x31;
    runStart = head.headersStart;
  }
  const tokens = head.connectionTokens;
  for (let i = 0; i < count; i++) {
    const ns = o[i * 4];
    if ((dropMask & (1 << kinds[i])) !== 0 || listed(raw, ns, o[i * 4 + 1], tokens) || listed(raw, ns, o[i * 4 + 1], dropNames)) {
      if (ns > runStart) w += raw.copy(out, w, runStart, ns);
      runStart = i + 1 < count ? o[(i + 1) * 4] : length - 2;
    }
  }
  if (length - 2 > runStart) w += raw.copy(out, w, runStart, length - 2);
  if (extra.length > 0) w += out.write(extra, w, 'latin1');
  out[w++] = 13;
  out[w++] = 10;
  if (bodyLength > 0) w += body!.copy(out, w, bs, be);
  return w === out.length ? out : out.subarray(0, w);
}

export { H_UPGRADE, H_TRANSFER_ENCODING, H_HOST };
