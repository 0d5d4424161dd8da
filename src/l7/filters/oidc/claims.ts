// Claims as they go upstream, and which unauthenticated requests get a 401 rather than a redirect.
import type { FilterContext } from '../types.ts';

const MAX_VALUE = 4096;

/**
 * A claim as one header value: strings, numbers and booleans as text, arrays of those joined with ',';
 * anything outside printable ASCII percent-encoded as UTF-8 (so no CR/LF/NUL and no raw non-ASCII reach
 * the upstream head); undefined for objects, null and values too long to be a header.
 */
export function claimHeaderValue(value: unknown): string | undefined {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value) && value.every((item) => typeof item === 'string' || typeof item === 'number')) text = value.join(',');
  else return undefined;
  if (/[^\x20-\x7e]/.test(text)) text = text.replace(/[^\x20-\x7e]+/g, (run) => encodeURIComponent(run));
  return text.length > MAX_VALUE ? undefined : text;
}

/** The claims of a verified token kept in the session: `sub` and the forwarded ones. */
export function pickClaims(payload: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const name of names) if (payload[name] !== undefined && name !== 'sub') claims[name] = payload[name];
  return claims;
}

/**
 * An API call (401) rather than a browser navigation (302 to the provider): a configured API prefix, a
 * method a redirect cannot carry, X-Requested-With, or an Accept asking for JSON but not HTML.
 */
export function isApiCall(ctx: FilterContext, apiPaths: readonly string[]): boolean {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return true;
  for (const prefix of apiPaths) if (ctx.path.startsWith(prefix)) return true;
  if (ctx.header('x-requested-with') !== undefined) return true;
  const accept = ctx.header('accept');
  return accept !== undefined && accept.includes('application/json') && !accept.includes('text/html');
}
