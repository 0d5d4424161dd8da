// The access log's line formats for people (log.access_log_format): `combined`, the Apache/nginx combined
// log format that log tools read, and `text`, a short line for a terminal. Built as bytes into the same
// reused AccessLine as the JSON line, with the same cost profile (no per-request allocation on plain
// ASCII requests); time texts are cached per second (combined) and per millisecond (text).
//
// The format travels with the access logger itself: supervisor/logging.ts creates it with the format's
// pino streamWrite hook (accessLineRewriter). writeAccessLog recognises the hook and builds the format's
// line directly; lines that take pino's own path (giant lines, the L4 proxy's, node:http2's) are JSON when
// they reach the hook, which rewrites them into the same format — so a file never mixes formats.
import { AccessLine, encodeAscii } from './access-line.ts';

export type AccessLogFormat = 'json' | 'combined' | 'text';

/** What the combined format reads from the request beyond the record (Referer, User-Agent). */
export interface AccessRequestHeaders {
  header(lowerName: string): string | undefined;
}

/** The fields of one line, as AccessRecord holds them (a structural subset, so tests and the hook can fill one). */
export interface AccessFields {
  client: string;
  method: string;
  host: string;
  path: string;
  status: number;
  bytesOut: number;
  route: string;
  pool: string;
  backend: string;
  protocol: string;
  minor: number;
  attempts: number;
  /** Why the edge answered or decided as it did ('' when the upstream's answer went through untouched). */
  reason: string;
  headers: AccessRequestHeaders | null;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** `[07/Dec/2026:11:24:53 +0000]` (UTC). */
export function clfTime(ms: number): string {
  const d = new Date(ms);
  return `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`;
}

/** Time texts of the two formats, each formatted once per tick of its resolution. */
export class AccessTimes {
  private clfSecond = -1;
  private clfBytes: Uint8Array = new Uint8Array(0);
  private isoMs = -1;
  private isoBytes: Uint8Array = new Uint8Array(0);

  clf(nowMs: number): Uint8Array {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.clfSecond) {
      this.clfSecond = second;
      this.clfBytes = encodeAscii(clfTime(second * 1000));
    }
    return this.clfBytes;
  }

  iso(nowMs: number): Uint8Array {
    const ms = Math.floor(nowMs);
    if (ms !== this.isoMs) {
      this.isoMs = ms;
      this.isoBytes = encodeAscii(new Date(ms).toISOString());
    }
    return this.isoBytes;
  }
}

const SP = encodeAscii(' ');
const DASH = encodeAscii('-');
const QUOTED_DASH = encodeAscii('"-"');
const USER_FIELDS = encodeAscii(' - - ');
const QUOTE = encodeAscii('"');
const SP_QUOTE = encodeAscii(' "');
const HTTP_10 = encodeAscii(' HTTP/1.0"');
const HTTP_11 = encodeAscii(' HTTP/1.1"');
const HTTP_2 = encodeAscii(' HTTP/2.0"');
const B_MS = encodeAscii('B ');
const MS = encodeAscii('ms');
const K_ROUTE = encodeAscii(' route=');
const K_POOL = encodeAscii(' pool=');
const K_BACKEND = encodeAscii(' backend=');
const K_ATTEMPTS = encodeAscii(' attempts=');
const K_REASON = encodeAscii(' reason=');
const NL = encodeAscii('\n');

/** Bytes a line of `fields` can take at most, besides its fixed parts (see AccessLine.plain). */
export function formattedWorstCase(fields: AccessFields, extra: number): number {
  const variable = fields.client.length + fields.method.length + fields.host.length + fields.path.length + fields.route.length + fields.pool.length + fields.backend.length + fields.reason.length + extra;
  return variable * 12 + 256;
}

/** `key` and `value`, or nothing when `value` is empty. */
function optional(line: AccessLine, key: Uint8Array, value: string): void {
  if (value.length === 0) return;
  line.bytes(key);
  line.plain(value);
}

function quotedOrDash(line: AccessLine, value: string | undefined): void {
  if (value === undefined || value.length === 0) return line.bytes(QUOTED_DASH);
  line.bytes(QUOTE);
  line.plain(value, true);
  line.bytes(QUOTE);
}

/**
 * `client - - [time] "METHOD path HTTP/x.y" status bytes "referer" "user-agent"`: the path without the query
 * (as in the JSON line: queries carry tokens), bytes as sent (head included, like nginx's $bytes_sent).
 */
export function buildCombined(line: AccessLine, fields: AccessFields, time: Uint8Array, referer: string | undefined, userAgent: string | undefined): void {
  line.plain(fields.client || '-', true);
  line.bytes(USER_FIELDS);
  line.bytes(time);
  line.bytes(SP_QUOTE);
  line.plain(fields.method || '-', true);
  line.bytes(SP);
  line.plain(fields.path || '-', true);
  line.bytes(fields.protocol === 'h2' ? HTTP_2 : fields.minor === 0 ? HTTP_10 : HTTP_11);
  line.bytes(SP);
  if (fields.status > 0) line.int(fields.status);
  else line.bytes(DASH);
  line.bytes(SP);
  line.int(fields.bytesOut);
  line.bytes(SP);
  quotedOrDash(line, referer);
  line.bytes(SP);
  quotedOrDash(line, userAgent);
  line.bytes(NL);
}

/** `time client METHOD hostpath status bytesB total_ms[ route=…][ pool=…][ backend=…][ h2][ attempts=N][ reason=…]`. */
export function buildText(line: AccessLine, fields: AccessFields, time: Uint8Array, from: number, to: number): void {
  line.bytes(time);
  line.bytes(SP);
  line.plain(fields.client || '-', true);
  line.bytes(SP);
  line.plain(fields.method || '-', true);
  line.bytes(SP);
  line.plain(fields.host, true);
  line.plain(fields.path, true);
  line.bytes(SP);
  if (fields.status > 0) line.int(fields.status);
  else line.bytes(DASH);
  line.bytes(SP);
  line.int(fields.bytesOut);
  line.bytes(B_MS);
  line.ms(from, to);
  line.bytes(MS);
  optional(line, K_ROUTE, fields.route);
  optional(line, K_POOL, fields.pool);
  optional(line, K_BACKEND, fields.backend);
  optional(line, SP, fields.protocol);
  if (fields.attempts > 1) {
    line.bytes(K_ATTEMPTS);
    line.int(fields.attempts);
  }
  optional(line, K_REASON, fields.reason);
  line.bytes(NL);
}

const text = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));
const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** A JSON access line (as pino wrote it) in `format`: the path of lines that did not take the byte builder. */
function rewrite(format: 'combined' | 'text', json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  // L4 (tcp) lines have no method: the listener stands in for the host, TCP for the method
  const fields: AccessFields = {
    client: text(entry.client),
    method: text(entry.method) || 'TCP',
    host: text(entry.host) || text(entry.listener),
    path: text(entry.path),
    status: count(entry.status),
    bytesOut: count(entry.bytes_out),
    route: text(entry.route),
    pool: text(entry.pool),
    backend: text(entry.backend),
    protocol: text(entry.protocol) || text(entry.proto),
    minor: 1,
    attempts: count(entry.attempts),
    reason: text(entry.reason),
    headers: null,
  };
  const at = typeof entry.time === 'string' ? Date.parse(entry.time) : typeof entry.time === 'number' ? entry.time : Date.now();
  const line = new AccessLine(formattedWorstCase(fields, 0));
  if (format === 'combined') buildCombined(line, fields, encodeAscii(clfTime(at)), undefined, undefined);
  else buildText(line, fields, encodeAscii(new Date(at).toISOString()), 0, count(entry.total_ms));
  return line.text();
}

export const rewriteCombined = (json: string): string => rewrite('combined', json);
export const rewriteText = (json: string): string => rewrite('text', json);

/** pino's `hooks.streamWrite` for an access logger in `format` (none for json). */
export function accessLineRewriter(format: AccessLogFormat): ((json: string) => string) | undefined {
  return format === 'combined' ? rewriteCombined : format === 'text' ? rewriteText : undefined;
}

/** The format an access logger was created with, from its streamWrite hook. */
export function formatOfHook(hook: unknown): AccessLogFormat {
  return hook === rewriteCombined ? 'combined' : hook === rewriteText ? 'text' : 'json';
}
