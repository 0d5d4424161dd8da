// `cache`: a shared HTTP cache (RFC 9111) in front of a route's pool. GET and HEAD are answered from
// memory while fresh; stale entries are revalidated with the stored ETag / Last-Modified (a 304 refreshes
// the entry and the stored response is sent), served stale while revalidating (stale-while-revalidate: the
// first request in the window gets the stale answer and marks the entry, the next one goes upstream to
// refresh it while the others keep getting the stale one) and served stale when the upstream answers 5xx
// (stale-if-error). Concurrent misses for one key send one request upstream. Every answer carries a
// Cache-Status field (RFC 9211). Unsafe methods that succeed invalidate the URL (§4.4).
import { newWireMemo } from '../local.ts';
import type { BodySink, BodyTransform, FilterContext, FilterEnv, FilterFactory, HeaderWriter, HttpFilter, LocalResponse, RequestVerdict, ResponseVerdict, ResponseView } from '../types.ts';
import type { FilterHost } from '../host.ts';
import { parseCacheControl, type Directives } from './cache-control.ts';
import { ageOf, listFieldOf, makeEntry, notModifiedFor, notModifiedHeaders, refreshFrom304, unstorableReason, type Entry } from './entry.ts';
import { KeyIndex, normalisePurgeUrl, primaryKey, variantKey, varyNames } from './keys.ts';
import { CacheRegistry, registryKey, type MemoryStore, type Pending } from './store.ts';
import type { DiskStore } from './disk.ts';
import path from 'node:path';

export { CacheRegistry, MemoryStore } from './store.ts';
export { parseCacheControl } from './cache-control.ts';

/** What onRequest learnt, for onUpstreamRequest and onResponse. */
interface RequestState {
  /** pass: neither served nor stored (Range, request no-store, HEAD miss); `detail` says why. */
  readonly kind: 'pass' | 'forward';
  readonly detail: string;
  key: string;
  primary: string;
  /** The stored entry being revalidated (stale, or one the client asked to validate). */
  entry: Entry | undefined;
  /** Set when this request leads a coalesced miss: settled once with the stored entry or undefined. */
  pending: Pending | undefined;
  varyMiss: boolean;
  authorized: boolean;
  request: Directives;
}

const noDirectives = parseCacheControl(undefined);
const pragmaNoCache = parseCacheControl('no-cache');
const pass = (detail: string): RequestState => ({ kind: 'pass', detail, key: '', primary: '', entry: undefined, pending: undefined, varyMiss: false, authorized: false, request: noDirectives });
const passRange = pass('Switchyard; fwd=bypass; detail=range');
const passRequest = pass('Switchyard; fwd=request; detail=no-store');
const methodStatus = 'Switchyard; fwd=method';
const unsafe: ReadonlySet<string> = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

/** Purges from this process's caches (the admin API's command, run in each worker); the count dropped. */
export async function purgeCache(host: FilterHost, target: { url?: string; prefix?: string }): Promise<number> {
  const url = target.url === undefined ? undefined : normalisePurgeUrl(target.url);
  const prefix = target.prefix === undefined ? undefined : (normalisePurgeUrl(target.prefix) ?? target.prefix);
  if (url === undefined && prefix === undefined) return 0;
  return host.env('', '').shared(registryKey, () => new CacheRegistry()).purge({ url, prefix });
}

export const cacheFilter = {
  name: 'cache',
  create(settings, env: FilterEnv): HttpFilter {
    const stats = env.stats('cache');
    const registry = env.shared(registryKey, () => new CacheRegistry());
    const store: MemoryStore = registry.store(settings.max_size, () => stats.count('evicted'));
    const disk: DiskStore | undefined = settings.disk === undefined ? undefined : registry.disk(path.join(env.dataDir, 'cache'), settings.disk.max_size, env.warn);
    const { heuristic, coalesce, coalesce_timeout: waitLimit, max_object_size: maxObject } = settings;
    const keys = new KeyIndex(env.scope);

    const stash = (ctx: FilterContext, state: RequestState): void => ctx.stash(filter, state);

    /** The stored answer (or a 304 when the client's own validators match it). */
    /** `reason` goes to the access log: the edge, not the upstream, answered. */
    const answer = (ctx: FilterContext, entry: Entry, age: number, cacheStatus: string, reason: string): LocalResponse => {
      ctx.setReason(reason);
      if (notModifiedFor(entry, ctx.header('if-none-match'), ctx.header('if-modified-since'))) {
        const headers = notModifiedHeaders(entry);
        headers.push('age', String(age), 'cache-status', cacheStatus);
        return { status: 304, headers, body: '' };
      }
      const headers = entry.headers.slice();
      headers.push('age', String(age), 'cache-status', cacheStatus);
      return { status: entry.status, headers, body: entry.body };
    };

    /** The common hit: the entry's last answer object while Age and TTL are the same (a 304 when the client's copy is current). */
    const freshHit = (ctx: FilterContext, entry: Entry, age: number, ttl: number): LocalResponse => {
      const cacheStatus = 'Switchyard; hit; ttl=';
      // a conditional request may get a 304: the general path
      if (entry.status === 200 && (ctx.header('if-none-match') !== undefined || ctx.header('if-modified-since') !== undefined)) return answer(ctx, entry, age, cacheStatus + ttl, 'cache:hit');
      let last = entry.hitAnswer;
      if (last === undefined || last.age !== age || last.ttl !== ttl) {
        const headers = entry.headers.slice();
        headers.push('age', String(age), 'cache-status', cacheStatus + ttl);
        last = entry.hitAnswer = { age, ttl, response: { status: entry.status, headers, body: entry.body, wire: newWireMemo() } };
      }
      ctx.setReason('cache:hit');
      return last.response;
    };

    /** Drops what is stored for one URL on one route (memory), and the URL's variants on disk. */
    const invalidate = (primary: string): void => {
      if (store.invalidate(primary) > 0) stats.count('invalidated');
      disk?.invalidate(primary.slice(0, primary.indexOf('\0')));
    };

    const settle = (state: RequestState, entry: Entry | undefined): void => {
      const pending = state.pending;
      if (pending === undefined) return;
      state.pending = undefined;
      if (store.pending.get(state.key) === pending) store.pending.delete(state.key);
      for (const waiter of pending.waiters) waiter(entry);
    };

    /** A miss or revalidation goes upstream: alone, as the leader of a coalesced key, or after waiting for one. */
    const forward = (ctx: FilterContext, state: RequestState): RequestVerdict | Promise<RequestVerdict> => {
      stash(ctx, state);
      if (!coalesce || state.authorized || ctx.method === 'HEAD') return undefined;
      const now = env.now();
      const inFlight = store.pending.get(state.key);
      if (inFlight === undefined || inFlight.deadline <= now) {
        state.pending = { deadline: now + waitLimit, waiters: [] };
        store.lead(state.key, state.pending, now);
        return undefined;
      }
      stats.count('coalesced');
      return new Promise<RequestVerdict>((resolve) => {
        let done = false;
        const finish = (entry: Entry | undefined): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const fresh = entry === undefined ? undefined : store.get(state.key);
          if (fresh === undefined) return resolve(undefined);
          const age = ageOf(fresh, env.now());
          stats.count('hit');
          resolve(answer(ctx, fresh, age, `Switchyard; hit; ttl=${fresh.lifetime - age}; collapsed`, 'cache:collapsed'));
        };
        const timer = setTimeout(finish, waitLimit, undefined);
        inFlight.waiters.push(finish);
      });
    };

    /** What a lookup found decides: a fresh answer, a stale one, a revalidation or a miss. */
    const decide = (ctx: FilterContext, state: RequestState, found: Entry | undefined, names: readonly string[] | undefined): RequestVerdict | Promise<RequestVerdict> => {
      const request = state.request;
      const key = state.key;
      let entry = found;
      if (entry !== undefined && state.authorized && !entry.authorizedOk) entry = undefined;
      if (entry === undefined) {
        state.varyMiss = names !== undefined && names.length > 0;
        if (request.onlyIfCached) return gatewayTimeout(ctx);
        stats.count('miss');
        return forward(ctx, state);
      }
      const age = ageOf(entry, env.now());
      const ttl = entry.lifetime - age;
      const validate = mustValidate(request, entry, age);
      if (!validate && servesFresh(request, ttl)) {
        stats.count('hit');
        return freshHit(ctx, entry, age, ttl);
      }
      if (!validate && !entry.mustRevalidate) {
        const staleness = -ttl;
        if (request.maxStale >= 0 && staleness <= request.maxStale) {
          stats.count('stale');
          return answer(ctx, entry, age, `Switchyard; hit; ttl=${ttl}; detail=max-stale`, 'cache:stale');
        }
        if (entry.staleWhileRevalidate >= 0 && staleness <= entry.staleWhileRevalidate) {
          const inFlight = store.pending.get(key);
          if (!entry.refreshWanted || (inFlight !== undefined && inFlight.deadline > env.now())) {
            entry.refreshWanted = true;
            stats.count('stale');
            return answer(ctx, entry, age, `Switchyard; hit; ttl=${ttl}; detail=stale-while-revalidate`, 'cache:stale-while-revalidate');
          }
        }
      }
      if (request.onlyIfCached) return gatewayTimeout(ctx);
      state.entry = entry;
      stats.count('revalidate');
      return forward(ctx, state);
    };

    /** A memory miss looks on disk first (the Vary names too, when memory does not know them). */
    const fromDisk = async (ctx: FilterContext, state: RequestState, known: readonly string[] | undefined, tier: DiskStore): Promise<RequestVerdict> => {
      const names = known ?? (await tier.vary(state.primary));
      if (known === undefined && names !== undefined && names.length > 0) state.key = variantKey(state.primary, names, ctx);
      const entry = store.get(state.key) ?? (await tier.read(state.key, env.now()));
      if (entry !== undefined) {
        store.set(entry, names ?? []);
        stats.count('disk_hit');
      }
      return decide(ctx, state, entry, names);
    };

    const filter: HttpFilter = {
      name: 'cache',

      onRequest(ctx) {
        const method = ctx.method;
        if (method !== 'GET' && method !== 'HEAD') return undefined;
        if (ctx.header('range') !== undefined) {
          stats.count('bypass');
          stash(ctx, passRange);
          return undefined;
        }
        const requestControl = ctx.header('cache-control');
        const request = requestControl !== undefined ? parseCacheControl(requestControl) : ctx.header('pragma')?.toLowerCase().includes('no-cache') ? pragmaNoCache : noDirectives;
        if (request.noStore) {
          stats.count('bypass');
          stash(ctx, passRequest);
          return undefined;
        }
        const primary = keys.primary(ctx);
        const names = store.vary(primary);
        const key = names === undefined || names.length === 0 ? primary : variantKey(primary, names, ctx);
        const authorized = ctx.header('authorization') !== undefined;
        const entry = store.get(key);
        // the common case, a fresh hit, allocates no request state: nothing is stashed for the later hooks
        if (entry !== undefined && (!authorized || entry.authorizedOk)) {
          const age = ageOf(entry, env.now());
          const ttl = entry.lifetime - age;
          if (!mustValidate(request, entry, age) && servesFresh(request, ttl)) {
            stats.count('hit');
            return freshHit(ctx, entry, age, ttl);
          }
        }
        const state: RequestState = { kind: 'forward', detail: '', key, primary, entry: undefined, pending: undefined, varyMiss: false, authorized, request };
        if (entry === undefined && disk !== undefined) return fromDisk(ctx, state, names, disk);
        return decide(ctx, state, entry, names);
      },

      onUpstreamRequest(ctx, head) {
        const state = ctx.stashed(filter) as RequestState | undefined;
        const entry = state?.entry;
        if (entry === undefined) return;
        if (entry.etag !== undefined) head.set('if-none-match', entry.etag);
        else head.remove('if-none-match');
        if (entry.lastModified !== undefined) head.set('if-modified-since', entry.lastModified);
        else head.remove('if-modified-since');
      },

      // no upstream response came (origin down, timeout): a stored copy within stale-if-error answers, and
      // requests waiting on this one are released at once to try the upstream themselves
      onUpstreamFailure(ctx: FilterContext, status: number): LocalResponse | undefined {
        const state = ctx.stashed(filter) as RequestState | undefined;
        if (state === undefined || state.kind === 'pass') return undefined;
        settle(state, undefined);
        const stale = state.entry;
        if (stale === undefined) return undefined;
        const age = ageOf(stale, env.now());
        const staleness = age - stale.lifetime;
        const window = Math.max(stale.staleIfError, state.request.staleIfError);
        if (stale.mustRevalidate || window < 0 || staleness > window) return undefined;
        stats.count('stale');
        return answer(ctx, stale, age, `Switchyard; fwd=stale; fwd-status=${status}; ttl=${-staleness}; detail=stale-if-error`, 'cache:stale-if-error');
      },

      onResponse(ctx: FilterContext, head: HeaderWriter, response: ResponseView): ResponseVerdict {
        const state = ctx.stashed(filter) as RequestState | undefined;
        const status = response.status;
        if (state === undefined) {
          if (ctx.method === 'GET' || ctx.method === 'HEAD') return undefined;
          // a successful unsafe request changes the resource: what is stored for its URL is out of date (a
          // later filter's own answer, a redirect to log in, changed nothing)
          if (unsafe.has(ctx.method) && status < 400 && response.local !== true) invalidate(primaryKey(ctx, env.scope));
          head.set('cache-status', methodStatus);
          return undefined;
        }
        if (state.kind === 'pass') {
          head.set('cache-status', state.detail);
          return undefined;
        }
        if (response.local === true) {
          // a later filter's own answer (a 429, an auth service's denial), not the URL's response: never
          // stored, never a reason to drop or serve what is stored; requests waiting on this one go on
          settle(state, undefined);
          head.set('cache-status', `Switchyard; fwd=${state.entry !== undefined ? 'stale' : state.varyMiss ? 'vary-miss' : 'uri-miss'}; fwd-status=${status}; detail=local`);
          return undefined;
        }
        const now = env.now();
        const stale = state.entry;
        if (stale !== undefined && status === 304) {
          refreshFrom304(stale, response.fields(), heuristic, now);
          // keeps it most recently used
          store.get(stale.key);
          disk?.write(stale, store.vary(stale.primary) ?? [], now);
          stats.count('revalidated');
          settle(state, stale);
          const age = ageOf(stale, now);
          return answer(ctx, stale, age, `Switchyard; fwd=stale; fwd-status=304; ttl=${stale.lifetime - age}`, 'cache:revalidated');
        }
        if (stale !== undefined && status >= 500) {
          const age = ageOf(stale, now);
          const staleness = age - stale.lifetime;
          const window = Math.max(stale.staleIfError, state.request.staleIfError);
          if (!stale.mustRevalidate && window >= 0 && staleness <= window) {
            stats.count('stale');
            settle(state, undefined);
            return answer(ctx, stale, age, `Switchyard; fwd=stale; fwd-status=${status}; ttl=${-staleness}; detail=stale-if-error`, 'cache:stale-if-error');
          }
        }
        const fwd = stale !== undefined ? 'stale' : state.varyMiss ? 'vary-miss' : 'uri-miss';
        if (ctx.method === 'HEAD') {
          head.set('cache-status', `Switchyard; fwd=${fwd}; fwd-status=${status}`);
          return undefined;
        }
        // every line of Cache-Control and Vary (a second line may say private, or vary on Cookie)
        const fields = response.fields();
        const directives = parseCacheControl(listFieldOf(fields, 'cache-control'));
        const vary = listFieldOf(fields, 'vary');
        let reason = unstorableReason(status, directives, response, vary, state.authorized, heuristic);
        const lengthField = response.header('content-length');
        if (reason === undefined && lengthField !== undefined && Number(lengthField) > maxObject) reason = 'size';
        if (reason !== undefined) {
          stats.count('uncacheable');
          // a stored response the origin no longer lets us keep is not served again
          if (stale !== undefined && status < 400) invalidate(state.primary);
          settle(state, undefined);
          head.set('cache-status', `Switchyard; fwd=${fwd}; fwd-status=${status}; detail=${reason}`);
          return undefined;
        }
        head.set('cache-status', `Switchyard; fwd=${fwd}; fwd-status=${status}; stored`);
        const names = varyNames(vary);
        const key = variantKey(state.primary, names, ctx);
        const expected = lengthField === undefined ? -1 : Number(lengthField);
        return capture((body) => {
          if (body === undefined || (expected >= 0 && body.length !== expected)) {
            settle(state, undefined);
            return;
          }
          const entry = makeEntry(key, state.primary, status, fields, body, directives, heuristic, env.now());
          store.set(entry, names);
          disk?.write(entry, names, env.now());
          stats.count('stored');
          // waiters looked up under the key they computed: with a Vary learnt just now theirs may differ
          if (key !== state.key) settle(state, undefined);
          else settle(state, entry);
        }, maxObject, expected);
      },
    };
    return filter;
  },
} satisfies FilterFactory<'cache'>;

/** The request's or the entry's directives say a stored answer is validated before it is used (§5.2.1.4, §5.2.1.1, §5.2.2.4). */
function mustValidate(request: Directives, entry: Entry, age: number): boolean {
  return request.noCache || (request.maxAge >= 0 && age > request.maxAge) || entry.noCache;
}

/** `ttl` seconds of freshness left are enough for this request (§4.2, §5.2.1.3 min-fresh). */
function servesFresh(request: Directives, ttl: number): boolean {
  return ttl > 0 && (request.minFresh < 0 || ttl >= request.minFresh);
}

/** only-if-cached with nothing usable stored (RFC 9111 §5.2.1.7). */
function gatewayTimeout(ctx: FilterContext): LocalResponse {
  ctx.setReason('cache:only-if-cached');
  return { status: 504, headers: ['cache-status', 'Switchyard; fwd=miss; detail=only-if-cached'], body: 'not in cache\n' };
}

/**
 * Passes the body on unchanged while keeping a copy (the path may reuse its read buffers, so bytes are
 * copied: into one buffer of the announced length, or chunk by chunk); `done` gets the whole body when it
 * ended within `limit` bytes, undefined when it grew past it or was cut.
 */
function capture(done: (body: Buffer | undefined) => void, limit: number, expected: number): BodyTransform {
  return {
    keepsLength: true,
    open(next: BodySink) {
      let whole: Buffer | null = expected >= 0 ? Buffer.allocUnsafe(expected) : null;
      let chunks: Buffer[] | null = expected >= 0 ? null : [];
      let size = 0;
      let open = true;
      const drop = (): void => {
        open = false;
        whole = null;
        chunks = null;
        done(undefined);
      };
      return {
        write(chunk) {
          next.write(chunk);
          if (!open) return;
          if (size + chunk.length > limit || (whole !== null && size + chunk.length > whole.length)) return drop();
          if (whole !== null) chunk.copy(whole, size);
          else chunks!.push(Buffer.from(chunk));
          size += chunk.length;
        },
        end() {
          next.end();
          if (!open) return;
          open = false;
          const body = whole !== null ? whole.subarray(0, size) : Buffer.concat(chunks!, size);
          whole = null;
          chunks = null;
          done(body);
        },
        abort() {
          if (open) drop();
        },
      };
    },
  };
}
