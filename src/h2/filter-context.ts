// The request as filters see it on the HTTP/2 → HTTP/2 path (FilterContext over the codec's flat fields),
// and the balancer's view of it (BalanceInput), one object per filtered request.
import { FilterSlots, cookieValue, type FilterContext, type HttpFilter } from '../l7/index.ts';

const EMPTY_BODY = Buffer.alloc(0);

export class H2FilterContext implements FilterContext {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly host: string;
  readonly scheme: 'http' | 'https';
  readonly clientAddress: string;
  readonly requestId: string;
  readonly routeName: string;
  readonly header: (name: string) => string | undefined;
  preferredBackend = '';
  /** The access log's `reason`: filters' codes. */
  reason = '';
  /** The body's first bytes, read ahead for filters with readsBody (dispatch.ts). */
  prefix: Buffer | null = null;
  /** FilterContext.filterTimes: this stream's own array (dispatch.ts). */
  filterTimes: Float64Array | null = null;
  private slots: FilterSlots | null = null;

  constructor(fields: { method: string; path: string; target: string; host: string; scheme: 'http' | 'https'; clientAddress: string; requestId: string; routeName: string; header: (name: string) => string | undefined }) {
    this.method = fields.method;
    this.path = fields.path;
    const q = fields.target.indexOf('?');
    this.query = q < 0 ? '' : fields.target.slice(q + 1);
    this.host = fields.host;
    this.scheme = fields.scheme;
    this.clientAddress = fields.clientAddress;
    this.requestId = fields.requestId;
    this.routeName = fields.routeName;
    this.header = fields.header;
  }

  cookie(name: string): string | undefined {
    const cookies = this.header('cookie');
    return cookies === undefined ? undefined : cookieValue(cookies, name);
  }

  stash(filter: HttpFilter, value: unknown): void {
    (this.slots ??= new FilterSlots()).set(filter, value);
  }

  stashed(filter: HttpFilter): unknown {
    return this.slots?.get(filter);
  }

  preferBackend(id: string): void {
    this.preferredBackend = id;
  }

  bodyPrefix(): Buffer {
    return this.prefix ?? EMPTY_BODY;
  }

  setReason(code: string): void {
    this.reason = this.reason === '' ? code : `${this.reason},${code}`;
  }
}
