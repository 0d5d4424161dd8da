// Strict parser of an upstream's response head (RFC 9112). An upstream that answers garbage gets a 502
// instead of being relayed: the client never sees an ambiguous response.
import { TOKEN, FIELD_VALUE, CR, LF, SP, HTAB, equalsLower } from './chars.ts';
import { classifyName, parseTransferEncoding, H_OTHER, H_CONTENT_LENGTH, H_TRANSFER_ENCODING, H_CONNECTION, MAX_HEADERS, BODY_NONE, BODY_LENGTH, BODY_CHUNKED } from './request-head.ts';

/** Response framing beyond request-head's BODY_*: delimited by the upstream closing the connection. */
export const BODY_UNTIL_CLOSE = 3;
/** Extra response header kind: names configured in response_headers.hide. */
export const H_HIDDEN = 16;

export class ResponseHead {
  raw: Buffer = Buffer.alloc(0);
  length = 0;
  status = 0;
  minor = 1;
  /** Offset of the first header line (after the status line). */
  headersStart = 0;
  headerCount = 0;
  readonly offsets = new Int32Array(MAX_HEADERS * 4);
  readonly kinds = new Uint8Array(MAX_HEADERS);
  bodyKind = BODY_NONE;
  contentLength = 0;
  /** The upstream socket may be reused after this response. */
  keepAlive = true;
  connectionTokens: string[] | null = null;
}

/**
 * Parses raw[0, length) (a complete head ending in CRLF CRLF) into `head`. `headRequest` tells that the
 * request was HEAD (no body follows whatever the headers say). `hidden` holds lower-case names to drop.
 * Returns true when the head is valid.
 */
export function parseResponseHead(raw: Buffer, length: number, head: ResponseHead, headRequest: boolean, hidden: readonly string[]): boolean {
  head.raw = raw;
  head.length = length;
  head.headerCount = 0;
  head.connectionTokens = null;
  if (length < 14) return false;
  if (raw[0] !== 0x48 || raw[1] !== 0x54 || raw[2] !== 0x54 || raw[3] !== 0x50 || raw[4] !== 0x2f || raw[5] !== 0x31 || raw[6] !== 0x2e) return false;
  const minor = raw[7] - 0x30;
  if ((minor !== 0 && minor !== 1) || raw[8] !== SP) return false;
  const d0 = raw[9] - 0x30;
  const d1 = raw[10] - 0x30;
  const d2 = raw[11] - 0x30;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return false;
  const status = d0 * 100 + d1 * 10 + d2;
  let i = 12;
  if (raw[i] === SP) {
    i++;
    while (FIELD_VALUE[raw[i]] === 1) i++;
  }
  if (raw[i] !== CR || raw[i + 1] !== LF) return false;
  i += 2;
  head.status = status;
  head.minor = minor;
  head.headersStart = i;

  const o = head.offsets;
  const kinds = head.kinds;
  let count = 0;
  let contentLength = -1;
  let teChunked = false;
  let teSeen = false;
  let connClose = false;
  let connKeepAlive = false;
  while (true) {
    const c = raw[i];
    if (c === CR) {
      if (raw[i + 1] !== LF || i + 2 !== length) return false;
      break;
    }
    const ns = i;
    while (TOKEN[raw[i]] === 1) i++;
    const ne = i;
    if (ne === ns || raw[i] !== 0x3a) return false;
    i++;
    while (raw[i] === SP || raw[i] === HTAB) i++;
    const vs = i;
    while (FIELD_VALUE[raw[i]] === 1) i++;
    if (raw[i] !== CR || raw[i + 1] !== LF) return false;
    let ve = i;
    while (ve > vs && (raw[ve - 1] === SP || raw[ve - 1] === HTAB)) ve--;
    i += 2;
    if (count === MAX_HEADERS) return false;
    const base = count * 4;
    o[base] = ns;
    o[base + 1] = ne;
    o[base + 2] = vs;
    o[base + 3] = ve;
    let kind = classifyName(raw, ns, ne - ns);
    if (kind === H_OTHER) {
      for (let h = 0; h < hidden.length; h++) {
        if (hidden[h].length === ne - ns && equalsLower(raw, ns, hidden[h])) {
          kind = H_HIDDEN;
          break;
        }
      }
    }
    kinds[count] = kind;
    if (kind === H_CONTENT_LENGTH) {
      let n = 0;
      if (ve === vs) return false;
      for (let k = vs; k < ve; k++) {
        const dgt = raw[k] - 0x30;
        if (dgt < 0 || dgt > 9) return false;
        n = n * 10 + dgt;
      }
      if (n > Number.MAX_SAFE_INTEGER || (contentLength >= 0 && n !== contentLength)) return false;
      contentLength = n;
    } else if (kind === H_TRANSFER_ENCODING) {
      const verdict = parseTransferEncoding(raw, vs, ve, teChunked);
      // an upstream may use other codings (gzip, chunked): we pass them through, framing by the last
      if (verdict === 400) return false;
      teSeen = true;
      teChunked = verdict === 1;
    } else if (kind === H_CONNECTION) {
      let k = vs;
      while (k < ve) {
        while (k < ve && (raw[k] === SP || raw[k] === HTAB || raw[k] === 0x2c)) k++;
        const s = k;
        while (k < ve && TOKEN[raw[k]] === 1) k++;
        if (k === s) break;
        const len = k - s;
        if (len === 5 && equalsLower(raw, s, 'close')) connClose = true;
        else if (len === 10 && equalsLower(raw, s, 'keep-alive')) connKeepAlive = true;
        else if (!(len === 7 && equalsLower(raw, s, 'upgrade')) && !framing(raw, s, len)) (head.connectionTokens ??= []).push(raw.toString('latin1', s, k).toLowerCase());
        // a listed Content-Length or Transfer-Encoding is ignored: the edge relays the body by those fields,
        // so they must reach the client with it (dropped, the client would read the response until close
        // and take the next response on the connection for part of this one)
      }
    }
    count++;
  }
  head.headerCount = count;
  head.keepAlive = minor === 1 ? !connClose : connKeepAlive && !connClose;
  head.contentLength = 0;
  if (headRequest || status < 200 || status === 204 || status === 304) {
    head.bodyKind = BODY_NONE;
  } else if (teSeen) {
    if (contentLength >= 0) return false; // both framings: refuse rather than guess
    if (teChunked) head.bodyKind = BODY_CHUNKED;
    else {
      head.bodyKind = BODY_UNTIL_CLOSE;
      head.keepAlive = false;
    }
  } else if (contentLength >= 0) {
    head.bodyKind = contentLength > 0 ? BODY_LENGTH : BODY_NONE;
    head.contentLength = contentLength;
  } else {
    head.bodyKind = BODY_UNTIL_CLOSE;
    head.keepAlive = false;
  }
  return true;
}

/** Whether the Connection token raw[s, s+len) names a framing field (Content-Length, Transfer-Encoding). */
function framing(raw: Buffer, s: number, len: number): boolean {
  const kind = classifyName(raw, s, len);
  return kind === H_CONTENT_LENGTH || kind === H_TRANSFER_ENCODING;
}

export { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };
