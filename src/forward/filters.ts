// The forward proxy's middleware: the listener's `middleware` list runs the edge's own filters (src/l7)
// on absolute-URI requests, so a forward proxy is a shared cache (RFC 9111's shared-cache rules: private
// and Authorization-bearing responses are not stored) and can rate-limit, rewrite headers, compress and
// screen requests like a reverse proxy. CONNECT tunnels carry bytes the proxy cannot read: no filter sees
// them. Filters that act for an origin's own users (cors, basic_auth, jwt, forward_auth, oidc), pick a
// pool's backend (sticky) or read request bodies (waf body inspection) are refused by the config check.
import { FilterSlots, cookieValue, type BodySink, type FilterContext, type HttpFilter, type RequestHead } from '../l7/index.ts';

const EMPTY = Buffer.alloc(0);

/**
 * One absolute-URI request as filters see it: the destination's authority as Host, scheme http (https goes
 * through CONNECT), `forward_proxy:<listener>` as the route (cache keys and rate-limit buckets are per
 * listener, and never those of a reverse route named like the listener: a proxy client must not plant
 * entries that route serves). One per exchange object, reset for each request of the connection.
 */
export class ForwardFilterContext implements FilterContext {
  private head!: RequestHead;
  method = '';
  path = '';
  query = '';
  host = '';
  readonly scheme = 'http' as const;
  clientAddress = '';
  readonly requestId = '';
  routeName = '';
  /** The listener routeName was made for (made again only when a reload renames it). */
  private listener = '';
  /** The access log's `reason`: the filters' codes, joined with ",". */
  reason = '';
  private slots: FilterSlots | null = null;

  reset(head: RequestHead, client: string, listener: string): void {
    this.head = head;
    this.method = head.method;
    this.path = head.path;
    const q = head.target.indexOf('?');
    this.query = q < 0 ? '' : head.target.slice(q + 1);
    this.host = head.authority;
    this.clientAddress = client;
    if (listener !== this.listener || this.routeName === '') {
      this.listener = listener;
      this.routeName = `forward_proxy:${listener}`;
    }
    this.reason = '';
    this.slots = null;
  }

  header(name: string): string | undefined {
    return this.head.header(name);
  }

  cookie(name: string): string | undefined {
    const cookies = this.head.header('cookie');
    return cookies === undefined ? undefined : cookieValue(cookies, name);
  }

  stash(filter: HttpFilter, value: unknown): void {
    (this.slots ??= new FilterSlots()).set(filter, value);
  }

  stashed(filter: HttpFilter): unknown {
    return this.slots?.get(filter);
  }

  /** A forward proxy has one destination, not a pool to pick from. */
  preferBackend(): void {}

  setReason(code: string): void {
    this.reason = this.reason === '' ? code : `${this.reason},${code}`;
  }

  /** No request filter of a forward proxy reads the body (refused at load). */
  bodyPrefix(): Buffer {
    return EMPTY;
  }
}

const CRLF = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

/** The client side of a transformed response body (what a body transform writes into). */
export interface TransformedTarget {
  /** Writes to the client; false when its buffer is full (the origin is paused until it drains). */
  writeClient(chunk: Buffer): void;
  /** The transform's output ended: the response is complete. */
  transformedEnd(): void;
  /** The transform's input is full (a compressor behind the origin): stop reading the origin until release. */
  holdOrigin(): void;
  releaseOrigin(): void;
}

/**
 * Where a transformed body goes: chunked framing when the transform changed the length towards an
 * HTTP/1.1 client, the bytes as they are otherwise (a kept length, or until close for HTTP/1.0).
 */
export class ClientBodySink implements BodySink {
  private readonly target: TransformedTarget;
  private readonly chunked: boolean;
  private ended = false;

  constructor(target: TransformedTarget, chunked: boolean) {
    this.target = target;
    this.chunked = chunked;
  }

  write(chunk: Buffer): void {
    if (this.ended || chunk.length === 0) return;
    if (!this.chunked) return this.target.writeClient(chunk);
    this.target.writeClient(Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'));
    this.target.writeClient(chunk);
    this.target.writeClient(CRLF);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.chunked) this.target.writeClient(LAST_CHUNK);
    this.target.transformedEnd();
  }

  hold(): void {
    this.target.holdOrigin();
  }

  release(): void {
    this.target.releaseOrigin();
  }
}
