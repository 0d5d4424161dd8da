// `compress`: response compression negotiated from Accept-Encoding (src/l7/filters/compress).
import { z } from 'zod';
import { size } from './common.ts';

export const compressEncodings = ['zstd', 'br', 'gzip'] as const;
export type CompressEncoding = (typeof compressEncodings)[number];

/**
 * Media types compressed when `types` is not given: text formats, JSON, JavaScript, XML, SVG, wasm and
 * uncompressed fonts. text/event-stream is left out on purpose: an event stream is read as it arrives.
 */
export const defaultCompressTypes = [
  'text/html',
  'text/plain',
  'text/css',
  'text/javascript',
  'text/xml',
  'text/csv',
  'text/markdown',
  'application/json',
  'application/*+json',
  'application/x-ndjson',
  'application/javascript',
  'application/xml',
  'application/*+xml',
  'application/wasm',
  'image/svg+xml',
  'image/x-icon',
  'font/ttf',
  'font/otf',
] as const;

/** `type/subtype`, `type/*` or `type/*+suffix`, lower-cased, no parameters. */
const mediaRange = z
  .string()
  .transform((text) => text.trim().toLowerCase())
  .refine((text) => /^[a-z0-9][a-z0-9!#$&^_.+-]*\/(\*|\*\+[a-z0-9!#$&^_.+-]+|[a-z0-9][a-z0-9!#$&^_.+-]*)$/.test(text), {
    message: 'expected a media type like text/html, text/* or application/*+json (no parameters)',
  });

export const compressFilterSchema = z.strictObject({
  /** The encodings offered, in the server's order of preference (a tie in the client's q-values goes to the first). */
  encodings: z
    .array(z.enum(compressEncodings))
    .min(1)
    .refine((list) => new Set(list).size === list.length, { message: 'expected each encoding once' })
    .default(['zstd', 'br', 'gzip']),
  /** Responses whose Content-Length is below this stay as they are (the framing would cost more than it saves). */
  min_size: size.default(1024),
  /** Media types compressed (Content-Type without parameters). */
  types: z.array(mediaRange).min(1).default([...defaultCompressTypes]),
  /** Level per encoding: gzip 1–9 (default 6), br 0–11 (default 4: 11 is for offline work), zstd 1–19 (default 3). */
  level: z
    .strictObject({
      gzip: z.number().int().min(1).max(9).optional(),
      br: z.number().int().min(0).max(11).optional(),
      zstd: z.number().int().min(1).max(19).optional(),
    })
    .default({}),
});
