// The `origins` setting compiled into one matcher: a Set for exact origins, suffix checks for
// `https://*.example.test` patterns (any subdomain depth, never the apex), and a flag for "*".
import type { CorsOrigin } from '../../../config/index.ts';

const hostLabels = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/;

export interface OriginMatcher {
  /** "*" was listed: any origin, answered with Access-Control-Allow-Origin: * (credentials are refused at load). */
  readonly any: boolean;
  /** Whether the answer for a request depends on its Origin (then responses carry Vary: Origin). */
  readonly dependsOnOrigin: boolean;
  /** Whether `origin` (the request's Origin field, as sent) is allowed. */
  allows(origin: string): boolean;
}

export function compileOrigins(origins: readonly CorsOrigin[], credentials: boolean): OriginMatcher {
  const any = origins.some((origin) => origin.kind === 'any');
  const exact = new Set<string>();
  const patterns: { prefix: string; suffix: string }[] = [];
  for (const origin of origins) {
    if (origin.kind === 'exact') exact.add(origin.origin);
    else if (origin.kind === 'subdomains') patterns.push({ prefix: `${origin.scheme}://`, suffix: `${origin.suffix}${origin.port}` });
  }
  return {
    any,
    // "*" without credentials answers "*" whatever the Origin; anything else echoes it or stays silent
    dependsOnOrigin: !(any && !credentials) && origins.length > 0,
    allows(origin) {
      if (any) return true;
      if (exact.has(origin)) return true;
      if (patterns.length === 0) return false;
      const lower = origin.toLowerCase();
      if (lower !== origin && exact.has(lower)) return true;
      for (const { prefix, suffix } of patterns) {
        if (lower.length <= prefix.length + suffix.length || !lower.startsWith(prefix) || !lower.endsWith(suffix)) continue;
        if (hostLabels.test(lower.slice(prefix.length, lower.length - suffix.length))) return true;
      }
      return false;
    },
  };
}
