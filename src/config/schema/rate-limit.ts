// `rate_limit`: a token bucket per key. The rate is parsed once here into its count and period; the key
// spec into its kind and name; store-specific keys are checked against the store.
import { z } from 'zod';

const tokenName = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** "100/s", "6000/m", "10/h", "1000/d" → { count, periodMs }. */
export const rateText = z.string().transform((text, ctx) => {
  const match = /^\s*(\d+)\s*\/\s*(s|m|h|d)\s*$/.exec(text);
  const count = match === null ? 0 : Number(match[1]);
  if (match === null || count < 1 || !Number.isSafeInteger(count)) {
    ctx.addIssue({ code: 'custom', message: `expected a rate like 100/s, 6000/m, 10/h or 1000/d, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  const periodMs = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return { count, periodMs };
});

export type RateLimitKey = { kind: 'ip' } | { kind: 'route' } | { kind: 'header' | 'cookie' | 'claim'; name: string };

/** `ip` | `route` | `header:NAME` | `cookie:NAME` | `claim:NAME`. */
const keySpec = z.string().transform((text, ctx): RateLimitKey => {
  if (text === 'ip' || text === 'route') return { kind: text };
  const match = /^(header|cookie|claim):(.+)$/.exec(text);
  if (match !== null) {
    const kind = match[1] as 'header' | 'cookie' | 'claim';
    const name = kind === 'header' ? match[2].toLowerCase() : match[2];
    const valid = kind === 'header' ? tokenName.test(name) : kind === 'cookie' ? /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) : /^[\x21-\x7e]+$/.test(name);
    if (valid) return { kind, name };
  }
  ctx.addIssue({ code: 'custom', message: `expected key ip, route, header:NAME, cookie:NAME or claim:NAME, got ${JSON.stringify(text)}` });
  return z.NEVER;
});

const redisUrl = z.string().refine((text) => /^rediss?:\/\/[^\s]+$/.test(text), { message: 'expected a Redis URL like redis://127.0.0.1:6379 (or rediss:// for TLS)' });

export const rateLimitFilterSchema = z
  .strictObject({
    /** What one bucket belongs to: the client address (after trusted proxies), a request header, a cookie, a claim of the bearer JWT, or the whole route. */
    key: keySpec.default({ kind: 'ip' }),
    /** The sustained rate: tokens added per period. */
    rate: rateText,
    /** The bucket's capacity (requests admitted at once after a quiet period); default: the rate's count. */
    burst: z.number().int().min(1).max(1_000_000_000).optional(),
    /** `local`: one budget per Switchyard instance, shared by its workers; `redis`: one budget shared by every instance using the same Redis. */
    store: z.enum(['local', 'redis']).default('local'),
    /** The Redis URL (store: redis only). */
    redis: redisUrl.optional(),
    /** What a request gets when the store cannot decide (Redis unreachable or slow; a worker's primary not answering): `allow` (fail open) or `deny` (fail closed, 503). */
    on_store_error: z.enum(['allow', 'deny']).default('allow'),
    /** The budget's name: filters with the same zone (and key) share buckets across routes; default: the route's name. */
    zone: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, { message: 'expected a zone name of letters, digits, _ . : - (at most 64)' }).optional(),
  })
  .superRefine((settings, ctx) => {
    if (settings.store === 'redis' && settings.redis === undefined) ctx.addIssue({ code: 'custom', path: ['redis'], message: 'expected a Redis URL (redis: redis://host:port) with store: redis' });
    if (settings.store === 'local' && settings.redis !== undefined) ctx.addIssue({ code: 'custom', path: ['redis'], message: 'redis is only used with store: redis' });
  });
