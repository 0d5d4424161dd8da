// Hand-made filter inputs for unit tests of filters and of the chain: a FilterContext over plain fields
// and a FilterEnv with a settable clock. Not the thing under test: the real paths build these from requests.
import { FilterHost, FilterSlots, builtinFilters, type FilterContext, type FilterEnv, type HttpFilter } from '../../src/l7/index.ts';

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
