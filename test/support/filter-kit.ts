// A hand-made FilterContext and FilterEnv for filter unit tests: a request described by a few fields, a
// stash, a fake clock the test advances, a shared-service map and recorded stats and warnings.
import type { FilterContext, FilterEnv, FilterStats, HttpFilter } from '../../src/l7/filters/index.ts';

export interface RequestShape {
  method?: string;
  path?: string;
  query?: string;
  host?: string;
  scheme?: 'http' | 'https';
  clientAddress?: string;
  routeName?: string;
  headers?: Record<string, string>;
  cookies?: Record<string, string>;
}

export interface TestContext extends FilterContext {
  readonly stashes: Map<HttpFilter, unknown>;
}

export function filterContext(shape: RequestShape = {}): TestContext {
  const stashes = new Map<HttpFilter, unknown>();
  const headers = Object.fromEntries(Object.entries(shape.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
  return {
    method: shape.method ?? 'GET',
    path: shape.path ?? '/',
    query: shape.query ?? '',
    host: shape.host ?? 'edge.test',
    scheme: shape.scheme ?? 'http',
    clientAddress: shape.clientAddress ?? '192.0.2.7',
    requestId: 'rid-1',
    routeName: shape.routeName ?? 'route',
    header: (name) => headers[name],
    cookie: (name) => shape.cookies?.[name],
    stash: (filter, value) => void stashes.set(filter, value),
    stashed: (filter) => stashes.get(filter),
    preferBackend: () => {},
    stashes,
  };
}

export interface TestEnv extends FilterEnv {
  /** Moves the fake clock on. */
  advance(ms: number): void;
  readonly counts: Map<string, number>;
  readonly observed: Map<string, number[]>;
  readonly warnings: string[];
  readonly services: Map<string, unknown>;
}

export function filterEnv(baseDir = '/tmp', start = 1_000_000): TestEnv {
  let clock = start;
  const counts = new Map<string, number>();
  const observed = new Map<string, number[]>();
  const services = new Map<string, unknown>();
  const warnings: string[] = [];
  return {
    now: () => clock,
    advance: (ms) => void (clock += ms),
    baseDir,
    dataDir: baseDir,
    shared<T>(key: string, make: () => T): T {
      if (!services.has(key)) services.set(key, make());
      return services.get(key) as T;
    },
    warn: (message) => void warnings.push(message),
    stats(filter): FilterStats {
      return {
        count: (event, n = 1) => void counts.set(`${filter}:${event}`, (counts.get(`${filter}:${event}`) ?? 0) + n),
        observe: (event, seconds) => void observed.set(`${filter}:${event}`, [...(observed.get(`${filter}:${event}`) ?? []), seconds]),
      };
    },
    counts,
    observed,
    warnings,
    services,
  };
}

/** The fields a HeaderWriter leaves, over a flat list (the HTTP/2 paths' form). */
export { FlatWriter } from '../../src/l7/filters/index.ts';
