// A request's decoded header list checked against RFC 9113 §8.2–8.3 and split into what the L7 exchange
// takes: pseudo-headers apart, regular fields as a flat [name, value, …] list with cookies joined for
// HTTP/1.1 (§8.2.3). A list that breaks a rule is malformed: the stream is reset with PROTOCOL_ERROR and
// nothing reaches an upstream.
import { connectionSpecific, hopByHop } from '../headers.ts';
import { validAuthority, validMethod, validName, validPath, validValue } from '../field-rules.ts';

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

/**
 * The request's parts, or null when the header list is malformed. `list` is the decoder's, made for this
 * request: its regular fields are moved to its front in place and it becomes `fields` (one array per
 * request, not two).
 */
export function requestFields(list: string[]): RequestFields | null {
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
  const fields = list;
  // fields[0, kept) are the regular fields taken so far (kept <= i: moved forward in place)
  let kept = 0;
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
    fields[kept++] = name;
    fields[kept++] = value;
  }
  fields.length = kept;
  if (!validMethod(method)) return null;
  if (method === 'CONNECT') {
    // a tunnel: only :method and :authority (RFC 9113 §8.5)
    if (scheme !== '' || path !== '' || authority === '') return null;
  } else if (scheme === '' || !validPath(method, path)) return null;
  if (authority === '') authority = host;
  if (!validAuthority(authority)) return null;
  if (cookie !== undefined) fields.push('cookie', cookie);
  return { method, scheme, authority, path, fields, contentLength, grpc, expectContinue };
}
