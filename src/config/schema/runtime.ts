// `runtime`: how the traffic worker processes are started — their memory allocator and V8's young
// generation. Applies to forked workers (workers ≥ 1); `workers: 0` runs traffic in the primary as it was
// started. Measurements behind the defaults: docs/bench.md, "Worker runtime".
import { z } from 'zod';
import { size } from './common.ts';

export const runtimeSchema = z.strictObject({
  /**
   * auto: jemalloc when its shared library is installed (Debian: libjemalloc2), else the system's malloc;
   * jemalloc: always, and refuse to start without it; system: glibc's malloc.
   */
  allocator: z.enum(['auto', 'jemalloc', 'system']).default('auto'),
  /**
   * V8's semi-space per worker (--max-semi-space-size), rounded to whole MB; 0 keeps Node's default, which
   * on a large machine grows to 64 MB: worker RSS +20–60 MB, and scavenges of 15–20 ms when hundreds of
   * HTTP/2 requests are in flight (4 MB: ~1 ms).
   */
  semi_space: size.default(4 * 1024 * 1024),
});

export type RuntimeConfig = z.output<typeof runtimeSchema>;

export const runtimeDefaults: RuntimeConfig = { allocator: 'auto', semi_space: 4 * 1024 * 1024 };

