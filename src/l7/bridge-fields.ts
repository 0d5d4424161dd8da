// The strings of an upstream response's fields as the bridge hands them to an HTTP/2 or HTTP/3 codec
// (names in lower case). Common names come from a table of constants instead of a string made and then
// lower-cased per field, and a common field's value is the string of the previous response when its bytes
// are the same (content-type, cache-control, server… rarely change between responses): per proxied
// response, two to four strings fewer for each such field, read from the shared read buffer in place.
import { equalsLower } from './parse/chars.ts';

/** The names looked up (lower case). Fields the bridge drops (hop-by-hop) are not worth a slot. */
export const COMMON_NAMES: readonly string[] = [
  'content-type', 'content-length', 'date', 'server', 'cache-control', 'etag', 'last-modified', 'vary', 'expires',
  'content-encoding', 'accept-ranges', 'age', 'location', 'set-cookie', 'x-content-type-options', 'x-frame-options',
  'access-control-allow-origin', 'content-security-policy', 'strict-transport-security', 'referrer-policy', 'server-timing',
  'x-request-id', 'content-language', 'content-disposition', 'link', 'alt-svc',
];

/** Values longer than this are made as strings each time (comparing would cost what it saves). */
const MAX_CACHED_VALUE = 128;

/** COMMON_NAMES indexes by name length. */
const byLength: number[][] = [];
for (let i = 0; i < COMMON_NAMES.length; i++) (byLength[COMMON_NAMES[i].length] ??= []).push(i);

/** The last value seen per common name (one worker's responses: they are alike). */
const lastValues: string[] = COMMON_NAMES.map(() => '');

/** The index in COMMON_NAMES of the name raw[start, end) spells in any case, or -1. */
export function commonName(raw: Buffer, start: number, end: number): number {
  const candidates = byLength[end - start];
  if (candidates === undefined) return -1;
  for (let k = 0; k < candidates.length; k++) if (equalsLower(raw, start, COMMON_NAMES[candidates[k]])) return candidates[k];
  return -1;
}

/** The value raw[start, end) of the field of common name `index`, as a string (the previous one when equal). */
export function commonValue(index: number, raw: Buffer, start: number, end: number): string {
  const length = end - start;
  if (length > MAX_CACHED_VALUE) return raw.toString('latin1', start, end);
  const last = lastValues[index];
  if (last.length === length) {
    let same = true;
    for (let i = 0; i < length && same; i++) same = raw[start + i] === last.charCodeAt(i);
    if (same) return last;
  }
  const value = raw.toString('latin1', start, end);
  lastValues[index] = value;
  return value;
}
