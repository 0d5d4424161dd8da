// CORS for the demo page: it is served from https://example.test:8443 and calls the API on
// https://api.example.test:8443, another origin. Only listed origins get access, with credentials so the
// session cookie travels, and the diagnostic headers are exposed so the page can show them.
import type { Headers } from './problem.ts';

const exposed = 'X-Instance, X-Client-Address, Server-Timing, Location';

export class CorsPolicy {
  readonly #origins: ReadonlySet<string>;
  /** "https://example.test:" for an entry "https://example.test:*" (any port: the edge's may vary in tests). */
  readonly #anyPort: readonly string[];

  constructor(origins: readonly string[]) {
    this.#origins = new Set(origins.filter((origin) => !origin.endsWith(':*')));
    this.#anyPort = origins.filter((origin) => origin.endsWith(':*')).map((origin) => origin.slice(0, -1));
  }

  allows(origin: string): boolean {
    if (this.#origins.has(origin)) return true;
    return this.#anyPort.some((prefix) => origin.startsWith(prefix) && /^\d{1,5}$/.test(origin.slice(prefix.length)));
  }

  /** Headers for an actual (non-preflight) response; empty when the origin is absent or not allowed. */
  responseHeaders(origin: string | undefined): Headers {
    if (!origin || !this.allows(origin)) return {};
    return {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': exposed,
      'timing-allow-origin': origin,
    };
  }

  /** Headers for a preflight (OPTIONS with Access-Control-Request-Method). */
  preflightHeaders(origin: string | undefined): Headers {
    const base = this.responseHeaders(origin);
    if (!base['access-control-allow-origin']) return {};
    return {
      ...base,
      'access-control-allow-methods': 'GET, POST, PUT, DELETE',
      'access-control-allow-headers': 'Content-Type, Authorization',
      'access-control-max-age': '600',
    };
  }
}
