// A request's decoded header list checked against RFC 9113 §8.2–8.3 and split into what the L7 exchange
// takes: pseudo-headers apart, regular fields as a flat [name, value, …] list with cookies joined for
// HTTP/1.1 (§8.2.3). A list that breaks a rule is malformed: the stream is reset with PROTOCOL_ERROR and
// nothing reaches an upstream.
import { connectionSpecific, hopByHop } from '../headers.ts';

export interface RequestFields {
  method: string;
  scheme: string;
  authority: string;
  path: string;
  /** Regular fields, lower-case names, in order; `cookie` fields joined into one at the end. */
  fields: string[];
  /** content-length, -1 when absent. */
  contentLength: number;
  grpc: boolean;
  expectContinue: boolean;
}

/** Token characters allowed in a field name, lower case only (RFC 9110 §5.6.2, RFC 9113 §8.2.1). */
const nameChar = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") nameChar[c.charCodeAt(0)] = 1;

function validName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || nameChar[c] === 0) return false;
  }
  return true;
}

/** No NUL, CR or LF, and no whitespace at either end (RFC 9113 §8.2.1). */
function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
  }
  return true;
}


/** The request's parts, or null when the header list is malformed. */
export function requestFields(list: readonly string[]): RequestFields | null {
  let method = '';
  let scheme = '';
  let authority = '';
  let path = '';
  let seenRegular = false;
  let host = '';
  let cookie: string | undefined;
  let contentLength = -1;
  let grpc = false;
  let expectContinue = false;
  const fields: string[] = [];
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i];
    const value = list[i + 1];
    if (name.charCodeAt(0) === 58 /* : */) {
      if (seenRegular) return null;
      if (name === ':method') {
        if (method !== '' || value === '') return null;
        method = value;
      } else if (name === ':scheme') {
        if (scheme !== '' || value === '') return null;
        scheme = value;
      } else if (name === ':authority') {
        if (authority !== '') return null;
        authority = value;
      } else if (name === ':path') {
        if (path !== '' || value === '') return null;
        path = value;
      } else return null;
      if (!validValue(value)) return null;
      continue;
    }
    seenRegular = true;
    if (!validName(name) || !validValue(value)) return null;
    if (connectionSpecific.has(name)) return null;
    if (name === 'te') {
      if (value !== 'trailers') return null;
    } else if (name === 'cookie') {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      continue;
    } else if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) return null;
      const length = Number(value);
      if (contentLength >= 0 && contentLength !== length) return null;
      if (contentLength >= 0) continue;
      contentLength = length;
    } else if (name === 'host') {
      host = value;
    } else if (name === 'content-type') {
      grpc = value.startsWith('application/grpc');
    } else if (name === 'expect') {
      expectContinue = value.toLowerCase() === '100-continue';
    } else if (hopByHop.has(name)) continue; // the other hop-by-hop fields, dropped for the next hop
    fields.push(name, value);
  }
  if (method === '') return null;
  if (method === 'CONNECT') {
    // a tunnel: only :method and :authority (RFC 9113 §8.5)
    if (scheme !== '' || path !== '' || authority === '') return null;
  } else if (scheme === '' || path === '') return null;
  if (authority === '') authority = host;
  if (cookie !== undefined) fields.push('cookie', cookie);
  return { method, scheme, authority, path, fields, contentLength, grpc, expectContinue };
}
