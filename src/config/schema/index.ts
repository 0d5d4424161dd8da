// The root of the config: one strict schema per section, joined here (STYLE.md rule 5).
import { z } from 'zod';
import { adminSchema } from './admin.ts';
import { poolSchema } from './pools.ts';
import { listenerSchema } from './listeners.ts';
import { dnsSchema } from './dns.ts';
import { duration } from './common.ts';
import { runtimeSchema, runtimeDefaults } from './runtime.ts';
import { telemetrySchema } from './telemetry.ts';

export const configSchema = z.strictObject({
  /** Where generated state lives (admin token, self-signed CA); relative to the config file. */
  data_dir: z.string().default('./data'),
  /** Traffic processes (one per core with auto); 0 runs the traffic plane inside the primary (debugging). */
  workers: z.union([z.literal('auto'), z.number().int().min(0).max(256)]).default(1),
  /** How worker processes are started: allocator and V8 young generation (applies at start, not reload). */
  runtime: runtimeSchema.default(runtimeDefaults),
  /** Time SIGTERM allows in-flight requests to finish. */
  shutdown_timeout: duration.default(10_000),
  admin: adminSchema.optional(),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** Access log destination: stdout, stderr, off, or a file path. */
      access_log: z.string().default('stdout'),
      /** Access line format: json (one object per line), combined (Apache/nginx), text (short, for a terminal). */
      access_log_format: z.enum(['json', 'combined', 'text']).default('json'),
    })
    .default({ level: 'info', access_log: 'stdout', access_log_format: 'json' }),
  pools: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, { message: 'expected a lower-case pool name' }), poolSchema).default({}),
  listeners: z.array(listenerSchema).default([]),
  dns: dnsSchema.optional(),
  /** Spans of finished requests, exported over OTLP (absent: nothing is recorded). */
  telemetry: telemetrySchema.optional(),
});

export type Config = z.output<typeof configSchema>;

export * from './common.ts';
export * from './pools.ts';
export * from './listeners.ts';
export * from './middleware.ts';
export * from './dns.ts';
export * from './admin.ts';
export * from './runtime.ts';
export * from './telemetry.ts';
export * from './acme.ts';
