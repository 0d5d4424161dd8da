// Path normalisation before routing (like nginx): routes match, and the upstream receives, the path with
// percent-encoded unreserved characters decoded and dot segments removed (RFC 3986 6.2.2, 5.2.4). So
// `/api/../admin` cannot pass a `/api` prefix route and reach /admin, and `/%61dmin` matches `/admin`.
// Refused (400): an encoded `/` or `\` (%2F, %5C: a separator the router would not see), NUL (%00), a
// raw `\`, a malformed escape, and `..` climbing above the root.
import type { RequestHead } from './request-head.ts';

const UNRESERVED = (() => {
  const t = new Uint8Array(128);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const c of '-._~') t[c.charCodeAt(0)] = 1;
  return t;
})();

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * The normalised form of an origin-form path (starting with `/`, no query), or null when the request
 * must be refused. Returns `path` itself when it is already normal (the common case: two scans, no
 * allocation).
 */
export function normalizePath(path: string): string | null {
  if (path.indexOf('%') < 0 && path.indexOf('/.') < 0 && path.indexOf('\\') < 0) return path;
  if (path.indexOf('\\') >= 0) return null;
  // 1. decode unreserved escapes; refuse separators, NUL and malformed escapes
  let decoded = path;
  if (path.indexOf('%') >= 0) {
    decoded = '';
    let run = 0;
    for (let i = 0; i < path.length; i++) {
      if (path.charCodeAt(i) !== 0x25) continue;
      const hi = hexValue(path.charCodeAt(i + 1));
      const lo = hexValue(path.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return null;
      const byte = hi * 16 + lo;
      if (byte === 0x2f || byte === 0x5c || byte === 0) return null;
      if (byte < 128 && UNRESERVED[byte] === 1) {
        decoded += path.slice(run, i) + String.fromCharCode(byte);
        run = i + 3;
      }
      i += 2;
    }
    decoded += path.slice(run);
  }
  if (decoded.indexOf('/.') < 0) return decoded;
  // 2. remove dot segments; `..` with nothing left to remove would escape the root
  const segments = decoded.split('/');
  const out: string[] = [];
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    const segment = segments[i];
    if (segment === '.' || segment === '..') {
      if (segment === '..') {
        if (out.length === 0) return null;
        out.pop();
      }
      // a final dot segment leaves a directory: the path ends with `/`
      if (i === last) out.push('');
      continue;
    }
    out.push(segment);
  }
  return '/' + out.join('/');
}

/**
 * Normalises a parsed head's path in place (the target keeps its query); false when the request must be
 * refused. Runs after parseRequestHead, which keeps the target as sent.
 */
export function normalizeHeadPath(head: RequestHead): boolean {
  const path = head.path;
  if (path === '*') return true;
  const normal = normalizePath(path);
  if (normal === null) return false;
  if (normal !== path) {
    head.target = normal + head.target.slice(path.length);
    head.path = normal;
    head.targetChanged = true;
  }
  return true;
}
