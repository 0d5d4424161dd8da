// W3C Server-Timing (what the edge and the application report about their own phases) and Trace Context
// (the traceparent this client sends so both can tag their work with our trace id).
import { randomBytes } from 'node:crypto';
import { parseTraceparent } from '../l7/index.ts';

export interface ServerTimingEntry {
  name: string;
  /** Milliseconds; undefined when the entry carries no dur. */
  durationMs?: number;
  description?: string;
  /**
   * Offset from when the server received the request, in ms. Not part of the standard: a server may add
   * `start=` so the waterfall can place its phases; without it, entries are drawn from the wait's start.
   */
  startMs?: number;
}

/** Splits on `sep` outside double quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '\\' && quoted && i + 1 < text.length) {
      current += char + text[++i];
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (char === sep && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

const unquote = (value: string): string => (value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value);

/** Parses every Server-Timing header value (each may hold several comma-separated entries). */
export function parseServerTiming(values: readonly string[]): ServerTimingEntry[] {
  const entries: ServerTimingEntry[] = [];
  for (const value of values) {
    for (const item of splitOutsideQuotes(value, ',')) {
      const [name, ...params] = splitOutsideQuotes(item, ';').map((part) => part.trim());
      if (!name || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) continue;
      const entry: ServerTimingEntry = { name };
      for (const param of params) {
        const eq = param.indexOf('=');
        const key = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
        const raw = eq < 0 ? '' : unquote(param.slice(eq + 1).trim());
        // the spec keeps the first occurrence of each parameter
        if (key === 'dur' && entry.durationMs === undefined && Number.isFinite(Number(raw)) && raw !== '') entry.durationMs = Number(raw);
        else if (key === 'desc' && entry.description === undefined) entry.description = raw;
        else if (key === 'start' && entry.startMs === undefined && Number.isFinite(Number(raw)) && raw !== '') entry.startMs = Number(raw);
      }
      entries.push(entry);
    }
  }
  return entries;
}

export interface TraceParent {
  version: string;
  traceId: string;
  parentId: string;
  flags: string;
}

/** A traceparent given by the user (any case, padded), checked by the edge's one parser (l7 trace-context). */
export function parseTraceParent(value: string): TraceParent | undefined {
  const text = value.trim().toLowerCase();
  const parsed = parseTraceparent(text);
  return parsed === null ? undefined : { version: text.slice(0, 2), traceId: parsed.traceId, parentId: text.slice(36, 52), flags: parsed.flags };
}

/** A fresh sampled traceparent: version 00, random trace and span ids. */
export function newTraceParent(): TraceParent {
  return { version: '00', traceId: randomBytes(16).toString('hex'), parentId: randomBytes(8).toString('hex'), flags: '01' };
}

export const formatTraceParent = (tp: TraceParent): string => `${tp.version}-${tp.traceId}-${tp.parentId}-${tp.flags}`;

/** Response headers that belong to tracing: the edge's and the application's answers to our traceparent. */
export const isTraceHeader = (name: string): boolean =>
  name === 'traceparent' || name === 'traceresponse' || name === 'tracestate' || name.startsWith('x-switchyard-trace') || name === 'x-trace-id' || name === 'x-request-id';
