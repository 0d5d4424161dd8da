// The telemetry section: spans of finished requests exported over OTLP/HTTP (docs/operations.md, Telemetry).
import { z } from 'zod';
import { duration } from './common.ts';

const endpoint = z.string().refine(
  (text) => {
    try {
      const url = new URL(text);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    } catch {
      return false;
    }
  },
  { message: 'expected an http:// or https:// URL like http://127.0.0.1:4318/v1/traces' },
);

export const otlpSchema = z.strictObject({
  /** Where spans are POSTed as OTLP/HTTP JSON (an ExportTraceServiceRequest per batch). */
  endpoint,
  /** Head sampling ratio of new traces, keyed on the trace id (every worker agrees); a continued trace follows the client's sampled flag. */
  sample: z.number().min(0).max(1).default(1),
  /** Extra request headers of every export (an API key of a hosted collector). */
  headers: z.record(z.string(), z.string()).default({}),
  batch: z
    .strictObject({
      /** Spans per export at most. */
      size: z.number().int().min(1).max(8192).default(512),
      /** Time a span waits at most before its batch goes out. */
      interval: duration.default(1000),
    })
    .default({ size: 512, interval: 1000 }),
  /** Requests waiting for export at most (per worker); past it the oldest are dropped and counted. */
  queue: z.number().int().min(1).max(1_000_000).default(4096),
  /** Time an export POST may take before it is abandoned (its spans counted as dropped). */
  timeout: duration.default(5000),
});

export const telemetrySchema = z.strictObject({
  otlp: otlpSchema.optional(),
});

export type OtlpConfig = z.output<typeof otlpSchema>;
