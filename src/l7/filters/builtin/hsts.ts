// `hsts`: on an https listener with tls.hsts, the listener's Strict-Transport-Security is the one the
// client sees: an upstream's is removed from its response (declared, as hide_headers). The listener's
// own field is written by the downstream on every response it sends — proxied, filter-made and
// edge-made answers (404, redirects, errors) alike — since the policy is the host's, not a route's.
import type { HttpFilter } from '../types.ts';

export interface HstsSettings {
  /** The Strict-Transport-Security value, undefined when HSTS is off (or the listener is plain http). */
  value: string | undefined;
}

/** Builds the filter, or null when HSTS is off. */
export function createHsts(settings: HstsSettings): HttpFilter | null {
  if (settings.value === undefined) return null;
  return { name: 'hsts', responseRemoves: ['strict-transport-security'] };
}
