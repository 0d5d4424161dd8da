// Shared field types for the config schema: durations, sizes, addresses, CIDRs.
// Each parses the user's text once at load time into the number or structure the data path uses.
import { z } from 'zod';
import { parseCidr, parseDuration, parseSize, type Cidr } from '../../core/index.ts';

/** "500ms" | "2s" | "1m" → milliseconds. Plain numbers are refused: a unit must be explicit. */
export const duration = z.string({ error: 'expected a duration like 500ms, 2s or 1m' }).transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 500ms, 2s or 1m, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return ms;
});

/** "16kb" | "10mb" → bytes. */
export const size = z.string({ error: 'expected a size like 16kb or 10mb' }).transform((text, ctx) => {
  const bytes = parseSize(text);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a size like 16kb or 10mb, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return bytes;
});

export interface HostPort {
  host: string;
  port: number;
}

/** "host:port" or "[v6]:port" → { host, port }; port 0 lets the OS choose (tests). */
export function parseHostPort(text: string): HostPort | undefined {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port > 65535) return undefined;
  return { host: match[1], port };
}

export const hostPort = z.string().transform((text, ctx) => {
  const parsed = parseHostPort(text);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: `expected host:port like 127.0.0.1:8080, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return parsed;
});

export type { Cidr };

/** "10.0.0.0/8" | "::1/128" | "127.0.0.1" (a single address) → parsed range. */
export const cidr = z.string().transform((text, ctx): Cidr => {
  try {
    return parseCidr(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected an address or CIDR like 10.0.0.0/8, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
});

export const positiveInt = z.number().int().positive();
