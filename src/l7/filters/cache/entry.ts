// A stored response and the RFC 9111 arithmetic on it: what may be stored (§3), how long it stays fresh
// (§4.2.1, §4.2.2), its age (§4.2.3), the head refresh after a 304 (§4.3.4), and whether a client's own
// conditional request is answered 304 from it (RFC 9110 §13.2.2).
import type { LocalResponse, ResponseView } from '../types.ts';
import { parseCacheControl, type Directives } from './cache-control.ts';

/** Statuses a cache may store (RFC 9110 §15.1's heuristically cacheable list, without 206: ranges pass). */
export const storableStatuses: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

/** Never stored with an entry, never replayed from one: per-hop fields, framing, and what the edge adds itself. */
const notStored: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', 'date', 'age', 'cache-status', 'proxy-authenticate', 'proxy-authentication-info']);

/** At most a day of heuristic freshness, however old the Last-Modified. */
const heuristicCap = 86_400;

export interface Entry {
  /** The full key: url \0 listener \0 route [\0 vary values]. */
  readonly key: string;
  /** url \0 listener \0 route: what purges and invalidations address. */
  readonly primary: string;
  status: number;
  /** Flat [name, value, …], lower-case names, without the fields in notStored. */
  headers: string[];
  readonly body: Buffer;
  /** env.now() (ms) when stored or last validated. */
  storedAt: number;
  /** Seconds of age the response already had when stored (Age, Date). */
  initialAge: number;
  /** Seconds of freshness from storedAt's point of view (0: stale at once). */
  lifetime: number;
  staleWhileRevalidate: number;
  staleIfError: number;
  /** must-revalidate / proxy-revalidate / no-cache: never served stale; no-cache: never served unvalidated. */
  mustRevalidate: boolean;
  noCache: boolean;
  /** public, s-maxage or must-revalidate: a request with Authorization may be answered from it (§3.5). */
  authorizedOk: boolean;
  etag: string | undefined;
  lastModified: string | undefined;
  /** A stale-while-revalidate answer was given: the next request in the window goes upstream to refresh. */
  refreshWanted: boolean;
  readonly size: number;
  /**
   * The last plain fresh-hit answer, reused while its Age and TTL hold (at most a second), so a hit builds
   * no fields and the HTTP/1.1 path can write the bytes it encoded for it (LocalResponse.wire). Cleared
   * when the stored head changes.
   */
  hitAnswer?: HitAnswer;
}

export interface HitAnswer {
  readonly age: number;
  readonly ttl: number;
  readonly response: LocalResponse;
}

/** The first value of `name` in flat fields. */
export function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/**
 * Every line of a list field as one value (RFC 9110 §5.3: the lines combine, comma-separated). For the
 * fields whose directives decide what may be shared: an origin's `Cache-Control: max-age=60` followed by
 * `Cache-Control: private`, or `Vary: Accept` followed by `Vary: Cookie`, must not be read as the first line alone.
 */
export function listFieldOf(fields: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) value = value === undefined ? fields[i + 1] : `${value}, ${fields[i + 1]}`;
  return value;
}

/** The names a Connection field lists, which are per-hop too (RFC 9110 §7.6.1). */
function connectionNames(fields: readonly string[]): Set<string> | null {
  let names: Set<string> | null = null;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] !== 'connection') continue;
    for (const name of fields[i + 1].split(',')) (names ??= new Set()).add(name.trim().toLowerCase());
  }
  return names;
}

export function storedFields(fields: readonly string[]): string[] {
  const perHop = connectionNames(fields);
  const kept: string[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (notStored.has(name) || perHop?.has(name)) continue;
    kept.push(name, fields[i + 1]);
  }
  return kept;
}

/** Why a response is not stored, or undefined when it may be. */
export function unstorableReason(status: number, directives: Directives, response: ResponseView, vary: string | undefined, authorized: boolean, heuristic: boolean): string | undefined {
  if (!storableStatuses.has(status)) return 'status';
  if (directives.noStore) return 'no-store';
  if (directives.private) return 'private';
  if (authorized && !directives.public && directives.sMaxage < 0 && !directives.mustRevalidate) return 'authorization';
  if (response.header('set-cookie') !== undefined) return 'set-cookie';
  if (vary !== undefined && vary.includes('*')) return 'vary-star';
  const explicit = directives.sMaxage >= 0 || directives.maxAge >= 0 || response.header('expires') !== undefined;
  if (explicit || directives.noCache) return undefined;
  if (directives.public) return undefined;
  if (heuristic && response.header('last-modified') !== undefined) return undefined;
  return 'no-freshness';
}

/**
 * Freshness lifetime in seconds (§4.2.1; a shared cache: s-maxage first), and the age already spent
 * (§4.2.3 without the request-time correction: the edge sees the response as it arrives).
 */
export function freshness(fields: readonly string[], directives: Directives, heuristic: boolean, wallNow: number): { lifetime: number; initialAge: number } {
  const dateText = fieldOf(fields, 'date');
  const dateParsed = dateText === undefined ? NaN : Date.parse(dateText);
  const date = Number.isNaN(dateParsed) ? wallNow : dateParsed;
  const ageText = fieldOf(fields, 'age');
  const ageValue = ageText !== undefined && /^\d{1,10}$/.test(ageText.trim()) ? Number(ageText) : 0;
  const initialAge = Math.max(0, Math.floor((wallNow - date) / 1000), ageValue);
  let lifetime = 0;
  if (directives.noCache) lifetime = 0;
  else if (directives.sMaxage >= 0) lifetime = directives.sMaxage;
  else if (directives.maxAge >= 0) lifetime = directives.maxAge;
  else {
    const expires = fieldOf(fields, 'expires');
    if (expires !== undefined) {
      const at = Date.parse(expires);
      lifetime = Number.isNaN(at) ? 0 : Math.max(0, Math.floor((at - date) / 1000));
    } else if (heuristic) {
      const modified = Date.parse(fieldOf(fields, 'last-modified') ?? '');
      if (!Number.isNaN(modified)) lifetime = Math.min(heuristicCap, Math.max(0, Math.floor((date - modified) / 10_000)));
    }
  }
  return { lifetime, initialAge };
}

/** Builds an entry from a complete response. */
export function makeEntry(key: string, primary: string, status: number, fields: string[], body: Buffer, directives: Directives, heuristic: boolean, now: number): Entry {
  const headers = storedFields(fields);
  const { lifetime, initialAge } = freshness(fields, directives, heuristic, Date.now());
  let size = body.length + 64 + key.length;
  for (let i = 0; i < headers.length; i++) size += headers[i].length;
  return {
    key,
    primary,
    status,
    headers,
    body,
    storedAt: now,
    initialAge,
    lifetime,
    staleWhileRevalidate: directives.staleWhileRevalidate,
    staleIfError: directives.staleIfError,
    mustRevalidate: directives.mustRevalidate || directives.noCache,
    noCache: directives.noCache,
    authorizedOk: directives.public || directives.sMaxage >= 0 || directives.mustRevalidate,
    etag: fieldOf(headers, 'etag'),
    lastModified: fieldOf(headers, 'last-modified'),
    refreshWanted: false,
    size,
    hitAnswer: undefined,
  };
}

/** Current age in whole seconds. */
export function ageOf(entry: Entry, now: number): number {
  return entry.initialAge + Math.max(0, Math.floor((now - entry.storedAt) / 1000));
}

/**
 * §4.3.4: the stored head takes every field the 304 carries (replacing the stored fields of those names),
 * then freshness is computed again from the merged head; the body stays.
 */
export function refreshFrom304(entry: Entry, notModified: readonly string[], heuristic: boolean, now: number): void {
  const incoming = storedFields(notModified);
  const replaced = new Set<string>();
  for (let i = 0; i < incoming.length; i += 2) replaced.add(incoming[i]);
  const merged: string[] = [];
  for (let i = 0; i < entry.headers.length; i += 2) if (!replaced.has(entry.headers[i])) merged.push(entry.headers[i], entry.headers[i + 1]);
  merged.push(...incoming);
  // freshness reads Date and Age, which are not kept in the entry: take them from the 304 itself
  const forFreshness = merged.slice();
  for (let i = 0; i < notModified.length; i += 2) if (notModified[i] === 'date' || notModified[i] === 'age') forFreshness.push(notModified[i], notModified[i + 1]);
  const directives = parseCacheControl(listFieldOf(merged, 'cache-control'));
  const { lifetime, initialAge } = freshness(forFreshness, directives, heuristic, Date.now());
  entry.headers = merged;
  entry.storedAt = now;
  entry.initialAge = initialAge;
  entry.lifetime = lifetime;
  entry.staleWhileRevalidate = directives.staleWhileRevalidate;
  entry.staleIfError = directives.staleIfError;
  entry.mustRevalidate = directives.mustRevalidate || directives.noCache;
  entry.noCache = directives.noCache;
  entry.etag = fieldOf(merged, 'etag');
  entry.lastModified = fieldOf(merged, 'last-modified');
  entry.refreshWanted = false;
  entry.hitAnswer = undefined;
}

/** RFC 9110 §13.1.2 weak comparison of an If-None-Match list against the stored ETag. */
function noneMatch(header: string, etag: string | undefined): boolean {
  if (header.trim() === '*') return true;
  if (etag === undefined) return false;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const candidate of header.split(',')) {
    const trimmed = candidate.trim();
    if ((trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed) === opaque) return true;
  }
  return false;
}

/** Whether the client's conditional GET/HEAD is answered 304 from `entry` (If-None-Match wins over If-Modified-Since). */
export function notModifiedFor(entry: Entry, ifNoneMatch: string | undefined, ifModifiedSince: string | undefined): boolean {
  if (entry.status !== 200) return false;
  if (ifNoneMatch !== undefined) return noneMatch(ifNoneMatch, entry.etag);
  if (ifModifiedSince === undefined || entry.lastModified === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  const modified = Date.parse(entry.lastModified);
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}

/** The fields a 304 carries from the stored 200 (RFC 9110 §15.4.5). */
const notModifiedFields: ReadonlySet<string> = new Set(['cache-control', 'content-location', 'etag', 'expires', 'vary', 'last-modified']);

export function notModifiedHeaders(entry: Entry): string[] {
  const fields: string[] = [];
  for (let i = 0; i < entry.headers.length; i += 2) if (notModifiedFields.has(entry.headers[i])) fields.push(entry.headers[i], entry.headers[i + 1]);
  return fields;
}
