// Strict HTTP/1.1 request-head parser (RFC 9112). It runs on a complete head (the caller found CRLF CRLF
// with findHeadEnd) copied into its own buffer, and records offsets instead of building strings or maps:
// strings are made only for what routing and logging need. One RequestHead per connection is reused,
// because the next pipelined request is parsed only after the current exchange is done.
import { TOKEN, FIELD_VALUE, TARGET, HOST, CR, LF, SP, HTAB, equalsLower } from './chars.ts';
import { cookieValue } from './cookie.ts';

/** Header kinds the proxy acts on; everything else is OTHER and passes through untouched. */
export const H_OTHER = 0;
export const H_HOST = 1;
export const H_CONTENT_LENGTH = 2;
export const H_TRANSFER_ENCODING = 3;
export const H_CONNECTION = 4;
/** Hop-by-hop: keep-alive, te, trailer, proxy-*. Always stripped. */
export const H_HOP = 5;
export const H_UPGRADE = 6;
export const H_EXPECT = 7;
export const H_X_FORWARDED_FOR = 8;
export const H_X_REAL_IP = 9;
export const H_X_FORWARDED_PROTO = 10;
export const H_X_FORWARDED_HOST = 11;
export const H_X_FORWARDED_PORT = 12;
export const H_FORWARDED = 13;
export const H_COOKIE = 14;
export const H_REQUEST_ID = 15;
/** Request-only kinds, classified by parseRequestHead (response heads number their own kinds from 16). */
export const H_TRACEPARENT = 16;
export const H_TRACESTATE = 17;
/** x-switchyard-trace: asks for the edge's Server-Timing; never goes upstream. */
export const H_SY_TRACE = 18;

export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;

export const MAX_HEADERS = 128;
const MAX_CONTENT_LENGTH = Number.MAX_SAFE_INTEGER;

/** Classifies a header name shared by requests and responses (request-id handled by the caller). */
export function classifyName(buf: Buffer, s: number, len: number): number {
  switch (len) {
    case 2:
      return equalsLower(buf, s, 'te') ? H_HOP : H_OTHER;
    case 4:
      return equalsLower(buf, s, 'host') ? H_HOST : H_OTHER;
    case 6:
      if (equalsLower(buf, s, 'expect')) return H_EXPECT;
      if (equalsLower(buf, s, 'cookie')) return H_COOKIE;
      return H_OTHER;
    case 7:
      if (equalsLower(buf, s, 'upgrade')) return H_UPGRADE;
      if (equalsLower(buf, s, 'trailer')) return H_HOP;
      return H_OTHER;
    case 9:
      if (equalsLower(buf, s, 'x-real-ip')) return H_X_REAL_IP;
      if (equalsLower(buf, s, 'forwarded')) return H_FORWARDED;
      break;
    case 10:
      if (equalsLower(buf, s, 'connection')) return H_CONNECTION;
      if (equalsLower(buf, s, 'keep-alive')) return H_HOP;
      break;
    case 14:
      if (equalsLower(buf, s, 'content-length')) return H_CONTENT_LENGTH;
      break;
    case 15:
      if (equalsLower(buf, s, 'x-forwarded-for')) return H_X_FORWARDED_FOR;
      break;
    case 16:
      if (equalsLower(buf, s, 'x-forwarded-host')) return H_X_FORWARDED_HOST;
      if (equalsLower(buf, s, 'x-forwarded-port')) return H_X_FORWARDED_PORT;
      break;
    case 17:
      if (equalsLower(buf, s, 'transfer-encoding')) return H_TRANSFER_ENCODING;
      if (equalsLower(buf, s, 'x-forwarded-proto')) return H_X_FORWARDED_PROTO;
      break;
  }
  if (len > 6 && equalsLower(buf, s, 'proxy-')) return H_HOP;
  return H_OTHER;
}

/** Names only requests carry: the configured request-id header and the trace headers. */
function classifyRequestOnly(buf: Buffer, s: number, len: number, requestIdName: string): number {
  if (requestIdName.length === len && equalsLower(buf, s, requestIdName)) return H_REQUEST_ID;
  if (len === 11 && equalsLower(buf, s, 'traceparent')) return H_TRACEPARENT;
  if (len === 10 && equalsLower(buf, s, 'tracestate')) return H_TRACESTATE;
  if (len === 18 && equalsLower(buf, s, 'x-switchyard-trace')) return H_SY_TRACE;
  return H_OTHER;
}

export class RequestHead {
  /** The head's bytes, from the request line through the final CRLF CRLF. */
  raw: Buffer = Buffer.alloc(0);
  method = '';
  /** Request-target as sent, and the origin-form target (path?query) sent upstream. */
  targetStart = 0;
  targetEnd = 0;
  /** Origin-form path and query; for absolute-form the part after the authority ("/" when empty). */
  target = '';
  /** Path without the query: what routes match (normalised by path.ts before routing). */
  path = '';
  /** The target was rewritten by path normalisation: the upstream gets a new request line. */
  targetChanged = false;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor = 1;
  /** Offset of the first header line. */
  headersStart = 0;
  headerCount = 0;
  /** 4 ints per header: name start, name end, value start, value end (trailing OWS trimmed). */
  readonly offsets = new Int32Array(MAX_HEADERS * 4);
  readonly kinds = new Uint8Array(MAX_HEADERS);
  /** Host as sent (Host header, or the authority of an absolute-form target), '' when absent. */
  authority = '';
  /** Lower-case host without port, for routing. */
  hostname = '';
  absoluteForm = false;
  bodyKind = BODY_NONE;
  contentLength = 0;
  keepAlive = true;
  upgrade = false;
  expectContinue = false;
  /**
   * Extra header names listed in Connection (lower-case), stripped as hop-by-hop. Never one of the names
   * the edge frames or routes by (host, content-length, transfer-encoding, te, upgrade, …): see H_OTHER.
   */
  connectionTokens: string[] | null = null;
  /** Index of the traceparent header, -1 when absent, -2 when there are several (invalid). */
  traceparentAt = -1;
  /** Index of the x-switchyard-trace header, -1 when absent. */
  debugTraceAt = -1;

  /** First value of a header by lower-case name (latin1), or undefined. Allocates: not for the hot path. */
  header(lowerName: string): string | undefined {
    const o = this.offsets;
    for (let i = 0; i < this.headerCount; i++) {
      const ns = o[i * 4];
      if (o[i * 4 + 1] - ns === lowerName.length && equalsLower(this.raw, ns, lowerName)) {
        return this.raw.toString('latin1', o[i * 4 + 2], o[i * 4 + 3]);
      }
    }
    return undefined;
  }

  /** A cookie's value from the Cookie header(s), or undefined. Allocates: for balancers that ask. */
  cookie(name: string): string | undefined {
    for (let i = 0; i < this.headerCount; i++) {
      if (this.kinds[i] !== H_COOKIE) continue;
      const value = cookieValue(this.value(i), name);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  value(index: number): string {
    return this.raw.toString('latin1', this.offsets[index * 4 + 2], this.offsets[index * 4 + 3]);
  }
}

function internMethod(buf: Buffer, s: number, e: number): string {
  const len = e - s;
  const c = buf[s];
  if (len === 3 && c === 0x47 && buf[s + 1] === 0x45 && buf[s + 2] === 0x54) return 'GET';
  if (len === 4 && c === 0x50 && buf[s + 1] === 0x4f && buf[s + 2] === 0x53 && buf[s + 3] === 0x54) return 'POST';
  if (len === 4 && c === 0x48 && buf[s + 1] === 0x45 && buf[s + 2] === 0x41 && buf[s + 3] === 0x44) return 'HEAD';
  return buf.toString('latin1', s, e);
}

/**
 * Parses raw[0, length) — a complete head ending in CRLF CRLF with no leading empty lines — into `head`.
 * Returns 0 when the request is acceptable, else the status to answer (400, 417, 431, 501, 505).
 * `requestIdName` is the configured request-id header (lower-case) or '' when disabled. `connect`: accept
 * CONNECT with an authority-form target (a forward proxy); `authority` is then the target, `target` ''.
 */
export function parseRequestHead(raw: Buffer, length: number, head: RequestHead, requestIdName: string, connect = false): number {
  head.raw = raw;
  head.headerCount = 0;
  head.connectionTokens = null;
  head.traceparentAt = -1;
  head.debugTraceAt = -1;
  head.targetChanged = false;
  head.bodyKind = BODY_NONE;
  head.contentLength = 0;
  head.upgrade = false;
  head.expectContinue = false;
  head.absoluteForm = false;
  head.authority = '';
  head.hostname = '';

  // request-line = method SP request-target SP HTTP-version CRLF
  let i = 0;
  while (TOKEN[raw[i]] === 1) i++;
  if (i === 0 || raw[i] !== SP) return 400;
  const method = internMethod(raw, 0, i);
  head.method = method;
  const ts = ++i;
  while (TARGET[raw[i]] === 1) i++;
  const te = i;
  if (te === ts || raw[i] !== SP) return 400;
  i++;
  if (i + 10 > length) return 400;
  if (raw[i] !== 0x48 || raw[i + 1] !== 0x54 || raw[i + 2] !== 0x54 || raw[i + 3] !== 0x50 || raw[i + 4] !== 0x2f) return 400;
  const major = raw[i + 5] - 0x30;
  const minor = raw[i + 7] - 0x30;
  if (major < 0 || major > 9 || raw[i + 6] !== 0x2e || minor < 0 || minor > 9) return 400;
  if (raw[i + 8] !== CR || raw[i + 9] !== LF) return 400;
  if (major !== 1 || minor > 1) return 505;
  head.minor = minor;
  head.targetStart = ts;
  head.targetEnd = te;
  i += 10;
  head.headersStart = i;

  const status = connect && method === 'CONNECT' ? parseAuthorityForm(raw, ts, te, head) : parseTarget(raw, ts, te, head);
  if (status !== 0) return status;

  // header fields
  const o = head.offsets;
  const kinds = head.kinds;
  let count = 0;
  let hostIndex = -1;
  let contentLength = -1;
  let teChunked = false;
  let teCount = 0;
  let connClose = false;
  let connKeepAlive = false;
  let connUpgrade = false;
  let upgradeIndex = -1;
  while (true) {
    const c = raw[i];
    if (c === CR) {
      if (raw[i + 1] !== LF || i + 2 !== length) return 400;
      break;
    }
    if (c === SP || c === HTAB) return 400; // obs-fold (or whitespace before the first field)
    const ns = i;
    while (TOKEN[raw[i]] === 1) i++;
    const ne = i;
    if (ne === ns || raw[i] !== 0x3a) return 400;
    i++;
    while (raw[i] === SP || raw[i] === HTAB) i++;
    const vs = i;
    while (FIELD_VALUE[raw[i]] === 1) i++;
    if (raw[i] !== CR || raw[i + 1] !== LF) return 400;
    let ve = i;
    while (ve > vs && (raw[ve - 1] === SP || raw[ve - 1] === HTAB)) ve--;
    i += 2;
    if (count === MAX_HEADERS) return 431;
    const base = count * 4;
    o[base] = ns;
    o[base + 1] = ne;
    o[base + 2] = vs;
    o[base + 3] = ve;
    let kind = classifyName(raw, ns, ne - ns);
    if (kind === H_OTHER) kind = classifyRequestOnly(raw, ns, ne - ns, requestIdName);
    kinds[count] = kind;
    switch (kind) {
      case H_TRACEPARENT:
        head.traceparentAt = head.traceparentAt === -1 ? count : -2;
        break;
      case H_SY_TRACE:
        head.debugTraceAt = count;
        break;
      case H_HOST:
        if (hostIndex >= 0) return 400;
        hostIndex = count;
        for (let k = vs; k < ve; k++) if (HOST[raw[k]] !== 1) return 400;
        break;
      case H_CONTENT_LENGTH: {
        const value = parseContentLength(raw, vs, ve);
        if (value < 0 || (contentLength >= 0 && value !== contentLength)) return 400;
        contentLength = value;
        break;
      }
      case H_TRANSFER_ENCODING: {
        if (minor === 0) return 400;
        const verdict = parseTransferEncoding(raw, vs, ve, teChunked);
        if (verdict !== 0 && verdict !== 1) return verdict;
        teChunked = verdict === 1;
        teCount++;
        break;
      }
      case H_CONNECTION: {
        let k = vs;
        while (k < ve) {
          while (k < ve && (raw[k] === SP || raw[k] === HTAB || raw[k] === 0x2c)) k++;
          const s = k;
          while (k < ve && TOKEN[raw[k]] === 1) k++;
          if (k === s) {
            if (k < ve) return 400;
            break;
          }
          const len = k - s;
          if (len === 5 && equalsLower(raw, s, 'close')) connClose = true;
          else if (len === 10 && equalsLower(raw, s, 'keep-alive')) connKeepAlive = true;
          else if (len === 7 && equalsLower(raw, s, 'upgrade')) connUpgrade = true;
          else if (classifyName(raw, s, len) === H_OTHER) (head.connectionTokens ??= []).push(raw.toString('latin1', s, k).toLowerCase());
          // a listed Host, Content-Length, Transfer-Encoding, TE, Upgrade or Connection is ignored: the edge
          // derives the upstream's framing and Host itself, and a client must not switch them off from here
        }
        break;
      }
      case H_UPGRADE:
        upgradeIndex = count;
        break;
      case H_EXPECT:
        if (ve - vs === 12 && equalsLower(raw, vs, '100-continue')) head.expectContinue = true;
        else return 417;
        break;
    }
    count++;
  }
  head.headerCount = count;

  if (teCount > 0) {
    if (contentLength >= 0) return 400; // both framings: the classic smuggling vector
    if (!teChunked) return 400; // the final coding must be chunked (RFC 9112 6.3)
    head.bodyKind = BODY_CHUNKED;
  } else if (contentLength > 0) {
    head.bodyKind = BODY_LENGTH;
    head.contentLength = contentLength;
  }
  if (hostIndex < 0) {
    if (minor === 1) return 400;
  } else if (!head.absoluteForm && !(connect && method === 'CONNECT')) {
    head.authority = raw.toString('latin1', o[hostIndex * 4 + 2], o[hostIndex * 4 + 3]);
  }
  head.hostname = hostnameOf(head.authority);
  head.keepAlive = minor === 1 ? !connClose : connKeepAlive && !connClose;
  // RFC 9110 7.8: an Upgrade in an HTTP/1.0 request is ignored. The upstream gets HTTP/1.1 from the edge
  // and cannot tell, so the edge drops it (no 101 and no tunnel for an HTTP/1.0 client). An upgrade to
  // h2c is dropped too (as Envoy does): a backend that took it would turn the tunnel into an HTTP/2
  // connection on which the client's further requests pass the edge's routing and filters unseen
  // ("h2c smuggling"); the request goes on as a plain one.
  head.upgrade = minor === 1 && connUpgrade && upgradeIndex >= 0 && !namesH2c(raw, o[upgradeIndex * 4 + 2], o[upgradeIndex * 4 + 3]);
  return 0;
}

/** Whether the Upgrade value raw[s, e) lists the h2c protocol (any case, any version suffix, among others). */
function namesH2c(raw: Buffer, s: number, e: number): boolean {
  let i = s;
  while (i < e) {
    while (i < e && (raw[i] === SP || raw[i] === HTAB || raw[i] === 0x2c)) i++;
    const start = i;
    while (i < e && raw[i] !== 0x2c && raw[i] !== SP && raw[i] !== HTAB && raw[i] !== 0x2f) i++;
    if (i - start === 3 && equalsLower(raw, start, 'h2c')) return true;
    while (i < e && raw[i] !== 0x2c) i++; // a version (h2c/1) and what follows belong to the same token
  }
  return false;
}

function parseTarget(raw: Buffer, ts: number, te: number, head: RequestHead): number {
  // CONNECT takes only authority-form (RFC 9110 9.3.6), which this reverse proxy does not serve. A CONNECT
  // with any other target must not go upstream either: an origin that accepts it turns the pooled
  // connection into a tunnel after its 2xx, and the next request on that connection (another client's)
  // would go into the tunnel instead of being parsed.
  if (head.method === 'CONNECT') return 400;
  const first = raw[ts];
  if (first === 0x2f) {
    // one pass over the target for its first '?' and any '#' (buf.indexOf would scan past te, into the
    // headers, whenever the target has neither: three native calls per request for a few dozen bytes)
    let q = -1;
    for (let i = ts + 1; i < te; i++) {
      const c = raw[i];
      if (c === 0x23) return 400;
      if (c === 0x3f && q < 0) q = i;
    }
    head.target = raw.toString('latin1', ts, te);
    head.path = q < 0 ? head.target : head.target.slice(0, q - ts);
    return 0;
  }
  if (first === 0x2a && te - ts === 1) {
    if (head.method !== 'OPTIONS') return 400;
    head.target = '*';
    head.path = '*';
    return 0;
  }
  // absolute-form: http(s)://authority[/path][?query]; the authority replaces Host (RFC 9112 3.2.2)
  let k = ts;
  if (te - ts > 7 && equalsLower(raw, ts, 'http://')) k = ts + 7;
  else if (te - ts > 8 && equalsLower(raw, ts, 'https://')) k = ts + 8;
  else return 400;
  const as = k;
  while (k < te && raw[k] !== 0x2f && raw[k] !== 0x3f) {
    if (HOST[raw[k]] !== 1) return 400; // also refuses userinfo ("@")
    k++;
  }
  if (k === as) return 400;
  head.absoluteForm = true;
  head.authority = raw.toString('latin1', as, k);
  const rest = k === te ? '/' : raw[k] === 0x3f ? '/' + raw.toString('latin1', k, te) : raw.toString('latin1', k, te);
  if (rest.includes('#')) return 400;
  head.target = rest;
  const q = rest.indexOf('?');
  head.path = q < 0 ? rest : rest.slice(0, q);
  return 0;
}

/** CONNECT's authority-form (RFC 9112 3.2.3): host:port, the port required; no userinfo, path or query. */
function parseAuthorityForm(raw: Buffer, ts: number, te: number, head: RequestHead): number {
  let colon = -1;
  for (let k = ts; k < te; k++) {
    const c = raw[k];
    if (HOST[c] !== 1) return 400;
    if (c === 0x3a) colon = k;
  }
  if (colon <= ts || colon === te - 1 || te - colon - 1 > 5) return 400;
  for (let k = colon + 1; k < te; k++) if (raw[k] < 0x30 || raw[k] > 0x39) return 400;
  // an IPv6 literal must be bracketed whole: "[::1]:443", never "::1:443"
  if (raw[ts] === 0x5b ? raw[colon - 1] !== 0x5d : raw.indexOf(0x3a, ts) !== colon) return 400;
  head.authority = raw.toString('latin1', ts, te);
  head.target = '';
  head.path = '';
  return 0;
}

/** 1*DIGIT, or a comma list of identical values (RFC 9110 8.6); -1 when invalid. */
function parseContentLength(raw: Buffer, vs: number, ve: number): number {
  let value = -1;
  let k = vs;
  while (k <= ve) {
    let n = 0;
    const s = k;
    while (k < ve && raw[k] >= 0x30 && raw[k] <= 0x39) {
      n = n * 10 + raw[k] - 0x30;
      if (n > MAX_CONTENT_LENGTH) return -1;
      k++;
    }
    if (k === s) return -1;
    if (value >= 0 && n !== value) return -1;
    value = n;
    while (k < ve && (raw[k] === SP || raw[k] === HTAB)) k++;
    if (k === ve) break;
    if (raw[k] !== 0x2c) return -1;
    k++;
    while (k < ve && (raw[k] === SP || raw[k] === HTAB)) k++;
  }
  return value;
}

/**
 * Transfer-Encoding list: returns 1 when it ends in chunked, 0 when it does not end in chunked,
 * 400 when malformed or chunked appears twice, 501 for any coding other than chunked (we do not
 * decode gzip & co. on requests). `chunkedBefore` is whether an earlier line already ended in chunked.
 */
export function parseTransferEncoding(raw: Buffer, vs: number, ve: number, chunkedBefore: boolean): number {
  let chunked = chunkedBefore;
  let k = vs;
  let any = false;
  while (k < ve) {
    while (k < ve && (raw[k] === SP || raw[k] === HTAB || raw[k] === 0x2c)) k++;
    const s = k;
    while (k < ve && TOKEN[raw[k]] === 1) k++;
    if (k === s) {
      if (k < ve) return 400;
      break;
    }
    if (chunked) return 400; // something after chunked, or chunked twice
    any = true;
    if (k - s === 7 && equalsLower(raw, s, 'chunked')) chunked = true;
    else return 501;
    while (k < ve && (raw[k] === SP || raw[k] === HTAB)) k++;
    if (k < ve && raw[k] !== 0x2c) return 400;
  }
  if (!any) return 400;
  return chunked ? 1 : 0;
}

/** Lower-case host without the port ("[::1]:8080" → "[::1]"). */
export function hostnameOf(authority: string): string {
  if (authority.length === 0) return '';
  let end = authority.length;
  if (authority.charCodeAt(0) === 0x5b) {
    const close = authority.indexOf(']');
    end = close < 0 ? end : close + 1;
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) end = colon;
  }
  let host = end === authority.length ? authority : authority.slice(0, end);
  if (host.charCodeAt(host.length - 1) === 0x2e) host = host.slice(0, -1);
  for (let k = 0; k < host.length; k++) {
    const c = host.charCodeAt(k);
    if (c >= 0x41 && c <= 0x5a) return host.toLowerCase();
  }
  return host;
}
