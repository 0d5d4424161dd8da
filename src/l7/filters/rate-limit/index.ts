// `rate_limit`: a token bucket per key (client address, header, cookie, bearer-JWT claim, or the route),
// refilled at `rate`, holding `burst`. Over the limit: 429 with Retry-After, RateLimit and RateLimit-Policy.
// Admitted responses carry RateLimit and RateLimit-Policy too, so clients can pace themselves.
// Stores: `local` (one budget per instance; workers lease tokens from the primary, lease.ts) or `redis`
// (one budget for every instance on that Redis, redis-store.ts). Both are per-process shared services
// (env.shared): filters built again for the HTTP/2 dispatch or a reload find the same buckets.
import type { MiddlewareSettings } from '../../../config/index.ts';
import type { FilterContext, FilterFactory, HeaderWriter, HttpFilter, RequestVerdict } from '../types.ts';
import { compilePolicy, type Take } from './gcra.ts';
import { compileKey, keyText } from './key.ts';
import { limited, policyField, rateLimitField, sfString, storeUnavailable } from './fields.ts';
import { localStore } from './channel.ts';
import { RedisBuckets } from './redis-store.ts';
import type { RateStore } from './store.ts';

export { LeaseServer, LeaseClient, leaseBatch, type LeaseChannel, type RateLeaseRequest, type RateLeaseReply } from './lease.ts';
export { InProcessStore, StoreError, type RateStore } from './store.ts';
export { RedisBuckets, redisKeyPrefix } from './redis-store.ts';

/** Per zone: the quoted name and the RateLimit-Policy value, computed on the zone's first request. */
interface ZoneFields {
  quoted: string;
  policy: string;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T>).then === 'function';
}

export const rateLimitFilter = {
  name: 'rate_limit',
  create(settings: MiddlewareSettings['rate_limit'], env): HttpFilter {
    const { count, periodMs } = settings.rate;
    const policy = compilePolicy(count, periodMs, settings.burst ?? count);
    const keyOf = compileKey(settings.key);
    const tag = keyText(settings.key);
    const failOpen = settings.on_store_error === 'allow';
    const stats = env.stats('rate_limit');
    const store: RateStore =
      settings.store === 'redis'
        ? env.shared(`rate_limit:redis:${settings.redis!}`, () => new RedisBuckets(settings.redis!, env.warn))
        : env.shared('rate_limit:local', () => localStore(env.now));
    const zones = new Map<string, ZoneFields>();
    const zoneFields = (zone: string): ZoneFields => {
      let fields = zones.get(zone);
      if (fields === undefined) zones.set(zone, (fields = { quoted: sfString(zone), policy: policyField(zone, count, periodMs) }));
      return fields;
    };

    const decided = (ctx: FilterContext, fields: ZoneFields, take: Take, started: number): RequestVerdict => {
      stats.observe('decision', (env.now() - started) / 1000);
      if (take.granted === 0) {
        stats.count('limited');
        ctx.setReason('rate_limit:limited');
        return limited(fields.quoted, fields.policy, take);
      }
      stats.count('allowed');
      ctx.stash(filter, rateLimitField(fields.quoted, take));
      return undefined;
    };
    const failed = (ctx: FilterContext, err: unknown): RequestVerdict => {
      // anything but a store's own failure is a bug: let the path answer 500
      if ((err as { code?: unknown })?.code !== 'ERR_RATE_LIMIT_STORE') throw err;
      stats.count('store_error');
      // logged either way: an admitted request the limiter could not count is worth seeing too
      ctx.setReason('rate_limit:store_error');
      return failOpen ? undefined : storeUnavailable;
    };

    const filter: HttpFilter = {
      name: 'rate_limit',
      onRequest(ctx) {
        const value = keyOf(ctx);
        if (value === undefined) {
          stats.count('unkeyed');
          return undefined;
        }
        const zone = settings.zone ?? ctx.routeName;
        const fields = zoneFields(zone);
        const started = env.now();
        let take: Take | Promise<Take>;
        try {
          take = store.decide(`${zone}:${tag}:${value}`, policy);
        } catch (err) {
          return failed(ctx, err);
        }
        if (isPromise(take)) return take.then((settled) => decided(ctx, fields, settled, started), (err: unknown) => failed(ctx, err));
        return decided(ctx, fields, take, started);
      },
      onResponse(ctx: FilterContext, head: HeaderWriter) {
        const field = ctx.stashed(filter);
        if (typeof field !== 'string') return undefined;
        // add, not set: several rate_limit entries on one route each add their policy (the fields are lists)
        head.add('ratelimit-policy', zoneFields(settings.zone ?? ctx.routeName).policy);
        head.add('ratelimit', field);
        return undefined;
      },
    };
    return filter;
  },
} satisfies FilterFactory<'rate_limit'>;
