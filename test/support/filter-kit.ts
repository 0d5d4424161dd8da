// Hand-made filter inputs for unit tests of filters and of the chain: a FilterContext over plain fields
// and a FilterEnv with a settable clock. Not the thing under test: the real paths build these from requests.
import { FilterHost, FilterSlots, builtinFilters, type EdgeRequest, type FilterContext, type FilterEnv, type HttpFilter } from '../../src/l7/index.ts';
import type { FilterStats } from '../../src/l7/filters/index.ts';

export interface FakeRequest {
  method?: string;
  path?: string;
  query?: string;
  host?: string;
  scheme?: 'http' | 'https';
  clientAddress?: string;
  requestId?: string;
  routeName?: string;
  /** Lower-case names. */
  headers?: Record<string, string>;
  body?: Buffer;
  /** What the edge knows (FilterContext.edge), over defaults: peer 192.0.2.7 untrusted, port 443, a new trace. */
  edge?: Partial<EdgeRequest>;
}

export interface FakeContext extends FilterContext {
  preferredBackend: string;
  reason: string;
}

export function fakeContext(request: FakeRequest = {}): FakeContext {
  const headers = request.headers ?? {};
  const slots = new FilterSlots();
  return {
    method: request.method ?? 'GET',
    path: request.path ?? '/',
    query: request.query ?? '',
    host: request.host ?? 'edge.test',
    scheme: request.scheme ?? 'http',
    clientAddress: request.clientAddress ?? '192.0.2.7',
    requestId: request.requestId ?? 'rid-1',
    routeName: request.routeName ?? 'route',
    preferredBackend: '',
    header: (name) => headers[name],
    cookie(name) {
      for (const part of (headers.cookie ?? '').split(';')) {
        const eq = part.indexOf('=');
        if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
      }
      return undefined;
    },
    stash: (filter: HttpFilter, value: unknown) => slots.set(filter, value),
    stashed: (filter: HttpFilter) => slots.get(filter),
    preferBackend(id) {
      this.preferredBackend = id;
    },
    reason: '',
    edge: {
      peerAddress: '192.0.2.7',
      peerTrusted: false,
      localPort: 443,
      joinedHeader: (name) => headers[name] ?? '',
      sentRequestId: headers['x-request-id'],
      sentTracestate: headers.tracestate !== undefined,
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: '01',
      traceContinued: false,
      debugTrace: false,
      edgeTiming: () => 'edge_route;desc="route";dur=0.1;start=0',
      ...request.edge,
    },
    bodyPrefix: () => request.body ?? Buffer.alloc(0),
    setReason(code) {
      this.reason = this.reason === '' ? code : `${this.reason},${code}`;
    },
  };
}

/** An env over a fresh host; `clock.ms` moves its now(). */
export function fakeEnv(dir = process.cwd()): { env: FilterEnv; host: FilterHost; clock: { ms: number } } {
  const clock = { ms: 1_000_000 };
  const host = new FilterHost({ registry: builtinFilters(), now: () => clock.ms });
  return { env: host.env(dir, dir), host, clock };
}

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
  body?: Buffer;
}

/** A context that also exposes its stash (the filter tests of jwt, forward_auth and waf). */
export interface TestContext extends FilterContext {
  readonly stashes: Map<HttpFilter, unknown>;
  /** What filters gave to setReason, in order. */
  readonly reasons: string[];
}

export function filterContext(shape: RequestShape = {}): TestContext {
  const stashes = new Map<HttpFilter, unknown>();
  const reasons: string[] = [];
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
    setReason: (code) => void reasons.push(code),
    bodyPrefix: () => shape.body ?? Buffer.alloc(0),
    stashes,
    reasons,
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

/** An env whose stats, warnings and shared services are recorded in plain maps, with a clock the test advances. */
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
    scope: 'web',
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
export { FlatWriter } from '../../src/l7/index.ts';
