// `cache`: a shared HTTP response cache (RFC 9111) in each worker's memory (src/l7/filters/cache).
import { z } from 'zod';
import { duration, size } from './common.ts';

export const cacheFilterSchema = z
  .strictObject({
    /** The memory bound: stored bodies plus headers, per worker process; least recently used entries go first. */
    max_size: size.default(256 * 1024 * 1024),
    /** A response larger than this is passed on and not stored (default 8mb, or max_size when that is smaller). */
    max_object_size: size.optional(),
    /**
     * Store responses without explicit freshness (no max-age, s-maxage or Expires) when they have a
     * Last-Modified, fresh for 10% of their age (RFC 9111 §4.2.2), at most a day. Off: only explicit freshness.
     */
    heuristic: z.boolean().default(false),
    /**
     * A second tier under <data_dir>/cache, shared by the instance's workers and kept across restarts: memory
     * misses look there before going upstream. `max_size` bounds it (swept oldest first; the largest bound
     * configured on any route holds).
     */
    disk: z.strictObject({ max_size: size }).optional(),
    /** Concurrent misses for one URL send one request upstream; the others wait for its answer. */
    coalesce: z.boolean().default(true),
    /** How long a coalesced request waits for the first one before going upstream itself. */
    coalesce_timeout: duration.default(5000),
  })
  .superRefine((settings, ctx) => {
    if (settings.max_object_size !== undefined && settings.max_object_size > settings.max_size) ctx.addIssue({ code: 'custom', path: ['max_object_size'], message: `expected max_object_size at most max_size (${settings.max_size} bytes)` });
    if (settings.coalesce_timeout <= 0) ctx.addIssue({ code: 'custom', path: ['coalesce_timeout'], message: 'expected a positive duration' });
  })
  .transform((settings) => ({ ...settings, max_object_size: settings.max_object_size ?? Math.min(defaultMaxObject, settings.max_size) }));

const defaultMaxObject = 8 * 1024 * 1024;

/**
 * A route's filters in run order (listener's, then route's) must not put `compress` before `cache`: body
 * transforms run in that order, so the cache would store compressed bytes under the upstream's head (no
 * Content-Encoding). With `cache` first it stores the upstream's bytes and `compress` applies to misses.
 */
export function cacheOrderProblem(names: readonly string[]): string | undefined {
  const compress = names.indexOf('compress');
  if (compress === -1 || names.indexOf('cache', compress + 1) === -1) return undefined;
  return 'expected cache before compress in the run order (the listener\'s middleware, then the route\'s): the cache would store compressed bodies under uncompressed heads';
}
