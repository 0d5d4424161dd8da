// The heads the forward proxy sends on: a request head rebuilt for the origin (origin-form target, Host
// from the URI's authority, hop-by-hop and Connection-listed fields dropped, Proxy-* never forwarded,
// framing from the parsed body kind only, X-Forwarded-For and Via added) and a response head for the
// client (hop-by-hop fields dropped, Via added, Connection as the proxy decided). Header lines other than
// these are copied byte for byte as the parser validated them.
import {
  equalsLower,
  H_CONNECTION,
  H_CONTENT_LENGTH,
  H_EXPECT,
  H_FORWARDED,
  H_HOP,
  H_HOST,
  H_SY_TRACE,
  H_TRANSFER_ENCODING,
  H_UPGRADE,
  H_X_FORWARDED_FOR,
  H_X_REAL_IP,
  BODY_CHUNKED,
  BODY_LENGTH,
  type RequestHead,
  type ResponseHead,
} from '../l7/index.ts';
import type { ForwardContext } from './context.ts';

/** The middleware's edits of a head (an l7 LineWriter): lines to add, names whose copied lines are dropped. */
export interface HeadEdits {
  readonly lines: string;
  readonly dropped: readonly string[] | null;
}

/** Whether the middleware removed or set the field named at raw[ns, ne). */
function droppedByFilters(raw: Buffer, ns: number, ne: number, edits: HeadEdits | null): boolean {
  if (edits === null || edits.dropped === null) return false;
  for (const name of edits.dropped) if (name.length === ne - ns && equalsLower(raw, ns, name)) return true;
  return false;
}

/** Whether header `i` (name at raw[ns, ne)) is named in the message's Connection field. */
function listedInConnection(raw: Buffer, ns: number, ne: number, tokens: readonly string[] | null): boolean {
  if (tokens === null) return false;
  for (const token of tokens) if (token.length === ne - ns && equalsLower(raw, ns, token)) return true;
  return false;
}

/** `edits`: the upstream request filters' changes (null: none); the proxy's own framing, Via and X-Forwarded-For stay. */
export function requestHead(head: RequestHead, client: string, context: ForwardContext, edits: HeadEdits | null): string {
  const raw = head.raw;
  const o = head.offsets;
  const anonymous = context.config.anonymous;
  let out = `${head.method} ${head.target} HTTP/1.1\r\nHost: ${head.authority}\r\n`;
  let forwardedFor = '';
  for (let i = 0; i < head.headerCount; i++) {
    const kind = head.kinds[i];
    switch (kind) {
      case H_HOST:
      case H_CONTENT_LENGTH:
      case H_TRANSFER_ENCODING:
      case H_CONNECTION:
      case H_HOP:
      case H_UPGRADE:
      case H_EXPECT:
      case H_SY_TRACE:
        continue;
      case H_X_FORWARDED_FOR:
        if (!anonymous) forwardedFor += (forwardedFor === '' ? '' : ', ') + raw.toString('latin1', o[i * 4 + 2], o[i * 4 + 3]);
        continue;
      case H_X_REAL_IP:
      case H_FORWARDED:
        if (anonymous) continue;
        break;
    }
    if (listedInConnection(raw, o[i * 4], o[i * 4 + 1], head.connectionTokens)) continue;
    if (droppedByFilters(raw, o[i * 4], o[i * 4 + 1], edits)) continue;
    out += raw.toString('latin1', o[i * 4], o[i * 4 + 3]) + '\r\n';
  }
  if (edits !== null) out += edits.lines;
  if (head.bodyKind === BODY_LENGTH) out += `Content-Length: ${head.contentLength}\r\n`;
  else if (head.bodyKind === BODY_CHUNKED) out += 'Transfer-Encoding: chunked\r\n';
  if (!anonymous) out += `X-Forwarded-For: ${forwardedFor === '' ? client : `${forwardedFor}, ${client}`}\r\n`;
  return `${out}Via: ${head.minor === 0 ? '1.0' : '1.1'} ${context.via}\r\n\r\n`;
}

/** How a response body is framed towards the client. */
export const FRAME_AS_SENT = 0;
/** Without the origin's Transfer-Encoding: plain bytes to an HTTP/1.0 client, or a transformed body of the same length. */
export const FRAME_PLAIN = 1;
/** A transformed body of a new length: neither the origin's Content-Length nor its Transfer-Encoding. */
export const FRAME_NEW_LENGTH = 2;

/**
 * `close`: the client connection ends after this response (Connection: close). `framing`: FRAME_PLAIN
 * drops Transfer-Encoding, FRAME_NEW_LENGTH also Content-Length and, with `chunked`, says
 * Transfer-Encoding: chunked. An HTTP/1.0 client that keeps its connection gets Connection: keep-alive.
 * `edits`: the response filters' changes (null: none).
 */
export function responseHead(response: ResponseHead, clientMinor: number, close: boolean, framing: number, chunked: boolean, via: string, edits: HeadEdits | null): string {
  const raw = response.raw;
  const o = response.offsets;
  const lineEnd = raw.indexOf(0x0d);
  let out = `HTTP/1.1${raw.toString('latin1', 8, lineEnd)}\r\n`;
  for (let i = 0; i < response.headerCount; i++) {
    const kind = response.kinds[i];
    if (kind === H_CONNECTION || kind === H_HOP || kind === H_UPGRADE) continue;
    if (framing !== FRAME_AS_SENT && kind === H_TRANSFER_ENCODING) continue;
    if (framing === FRAME_NEW_LENGTH && kind === H_CONTENT_LENGTH) continue;
    if (listedInConnection(raw, o[i * 4], o[i * 4 + 1], response.connectionTokens)) continue;
    if (droppedByFilters(raw, o[i * 4], o[i * 4 + 1], edits)) continue;
    out += raw.toString('latin1', o[i * 4], o[i * 4 + 3]) + '\r\n';
  }
  if (edits !== null) out += edits.lines;
  if (chunked) out += 'Transfer-Encoding: chunked\r\n';
  out += `Via: ${response.minor === 0 ? '1.0' : '1.1'} ${via}\r\n`;
  if (close) out += 'Connection: close\r\n';
  else if (clientMinor === 0) out += 'Connection: keep-alive\r\n';
  return `${out}\r\n`;
}
