// The request as filters see it on the HTTP/2 → HTTP/2 path (FilterContext over the codec's flat fields,
// and the EdgeRequest the built-in filters read), and the balancer's view of it (BalanceInput), one object
// per proxied request.
import { FilterSlots, cookieValue, joinedValues, type BridgeTrace, type EdgeRequest, type FilterContext, type HttpFilter } from '../l7/index.ts';

const EMPTY_BODY = Buffer.alloc(0);

export interface H2RequestFacts {
  method: string;
  path: string;
  target: string;
  host: string;
  scheme: 'http' | 'https';
  clientAddress: string;
  requestId: string;
  routeName: string;
  header: (name: string) => string | undefined;
  /** The codec's flat request fields. */
  fields: readonly string[];
  peerAddress: string;
  peerTrusted: boolean;
  localPort: number;
  /** The client's own request-id field, undefined when none. */
  sentRequestId: string | undefined;
  trace: BridgeTrace;
}

export class H2FilterContext implements FilterContext, EdgeRequest {
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
  // EdgeRequest
  readonly peerAddress: string;
  readonly peerTrusted: boolean;
  readonly localPort: number;
  readonly sentRequestId: string | undefined;
  private readonly fields: readonly string[];
  private readonly trace: BridgeTrace;

  constructor(fields: H2RequestFacts) {
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
    this.fields = fields.fields;
    this.peerAddress = fields.peerAddress;
    this.peerTrusted = fields.peerTrusted;
    this.localPort = fields.localPort;
    this.sentRequestId = fields.sentRequestId;
    this.trace = fields.trace;
  }

  get edge(): EdgeRequest {
    return this;
  }

  joinedHeader(name: string): string {
    return joinedValues(this.fields, name);
  }

  get sentTracestate(): boolean {
    return this.header('tracestate') !== undefined;
  }

  get traceId(): string {
    return this.trace.traceId;
  }

  get spanId(): string {
    return this.trace.spanId;
  }

  get traceFlags(): string {
    return this.trace.flags;
  }

  get traceContinued(): boolean {
    return this.trace.continued;
  }

  get debugTrace(): boolean {
    return this.trace.debug;
  }

  /** The HTTP/2 upstream core keeps its phase times to itself until the end: only the route's entry. */
  edgeTiming(): string {
    return `edge_route;desc="${this.routeName.replace(/[\\"]/g, '\\$&')}";dur=0;start=0`;
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
