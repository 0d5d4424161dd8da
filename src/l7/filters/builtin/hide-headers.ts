// `hide_headers`: response_headers.hide, the upstream response fields that never reach the client
// (default Server, X-Powered-By). A pure declaration: each path removes them while it reads the upstream's
// head (the HTTP/1.1 parser marks them, flat lists skip them), before any response filter runs, so a
// filter may still set one of them again.
import type { HttpFilter } from '../types.ts';

export interface HideHeadersSettings {
  /** Lower-case names. */
  names: readonly string[];
}

/** Builds the filter, or null when nothing is hidden. */
export function createHideHeaders(settings: HideHeadersSettings): HttpFilter | null {
  if (settings.names.length === 0) return null;
  return { name: 'hide_headers', responseRemoves: settings.names };
}
