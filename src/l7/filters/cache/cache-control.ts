// Cache-Control directives (RFC 9111 §5.2) as the cache uses them. Unknown directives are ignored; a
// delta-seconds that does not parse makes that directive count as absent, except max-age and s-maxage,
// which then count as 0 (§4.2.1: an invalid freshness is treated as stale).
export interface Directives {
  maxAge: number;
  sMaxage: number;
  noStore: boolean;
  noCache: boolean;
  private: boolean;
  public: boolean;
  mustRevalidate: boolean;
  staleWhileRevalidate: number;
  staleIfError: number;
  onlyIfCached: boolean;
  minFresh: number;
  maxStale: number;
}

/** -1 stands for "not given" in every number. */
export function parseCacheControl(value: string | undefined): Directives {
  const directives: Directives = {
    maxAge: -1,
    sMaxage: -1,
    noStore: false,
    noCache: false,
    private: false,
    public: false,
    mustRevalidate: false,
    staleWhileRevalidate: -1,
    staleIfError: -1,
    onlyIfCached: false,
    minFresh: -1,
    maxStale: -1,
  };
  if (value === undefined) return directives;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    const argument = eq === -1 ? undefined : part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    switch (name) {
      case 'max-age':
        directives.maxAge = seconds(argument, 0);
        break;
      case 's-maxage':
        directives.sMaxage = seconds(argument, 0);
        break;
      case 'no-store':
        directives.noStore = true;
        break;
      // no-cache="field" and private="field" (qualified forms) are treated as the unqualified ones: stricter
      case 'no-cache':
        directives.noCache = true;
        break;
      case 'private':
        directives.private = true;
        break;
      case 'public':
        directives.public = true;
        break;
      case 'must-revalidate':
      case 'proxy-revalidate':
        directives.mustRevalidate = true;
        break;
      case 'stale-while-revalidate':
        directives.staleWhileRevalidate = seconds(argument, -1);
        break;
      case 'stale-if-error':
        directives.staleIfError = seconds(argument, -1);
        break;
      case 'only-if-cached':
        directives.onlyIfCached = true;
        break;
      case 'min-fresh':
        directives.minFresh = seconds(argument, -1);
        break;
      case 'max-stale':
        // max-stale without a value accepts any staleness
        directives.maxStale = argument === undefined ? Number.MAX_SAFE_INTEGER : seconds(argument, -1);
        break;
    }
  }
  return directives;
}

function seconds(argument: string | undefined, invalid: number): number {
  if (argument === undefined || !/^\d{1,10}$/.test(argument)) return invalid;
  return Math.min(Number(argument), 2 ** 31);
}
