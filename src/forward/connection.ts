// One client connection of a forward proxy: reads request heads with the L7 parser (CONNECT allowed),
// runs each request as an HttpExchange (absolute-URI requests, keep-alive, pipelined requests served one
// after another) or turns the connection into a CONNECT tunnel. A malformed head is answered 4xx and the
// connection closed: nothing of it reaches a destination.
import net from 'node:net';
import { RequestHead, parseRequestHead, findHeadEnd, ResponseHead, BODY_NONE } from '../l7/index.ts';
import { answer, CONNECT_ESTABLISHED } from './answers.ts';
import { authorize, isRefusal, type Destination, type Refusal } from './authorize.ts';
import { writeLog, type ForwardContext } from './context.ts';
import { HttpExchange, type ExchangeHost } from './exchange.ts';

/**
 * Bytes a client may send ahead (a pipelined request, a body not yet wanted) while an exchange is busy:
 * reading goes on up to this much so that its FIN is seen while the answer is awaited, then pauses.
 */
const MAX_AHEAD = 64 * 1024;

const S_HEAD = 0;
const S_BUSY = 1;
const S_TUNNEL = 2;
const S_CLOSED = 3;

/** The listener side a connection needs. */
export interface ConnectionOwner {
  /** The context current now (a reload replaces it between requests). */
  context(): ForwardContext;
  readonly draining: boolean;
}

/** "::ffff:192.0.2.1" → "192.0.2.1": the address as logs, X-Forwarded-For and ACLs expect it. */
function plainAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export class ForwardConnection implements ExchangeHost {
  readonly socket: net.Socket;
  readonly client: string;
  /** Reused by every exchange of the connection (parsed only once the previous exchange is done). */
  readonly head = new RequestHead();
  readonly responseHead = new ResponseHead();
  private readonly owner: ConnectionOwner;
  private state = S_HEAD;
  /** Bytes read and not consumed yet: a partial head, or what followed a head (body, pipelined requests). */
  private pending: Buffer | null = null;
  private scanned = 0;
  private requests = 0;
  /** The exchange in progress (null between requests and during CONNECT). */
  private exchange: HttpExchange | null = null;
  /** Created on the first absolute-URI request, reused by the next ones. */
  private exchanges: HttpExchange | null = null;
  private clientEnded = false;

  constructor(socket: net.Socket, owner: ConnectionOwner) {
    this.socket = socket;
    this.owner = owner;
    this.client = plainAddress(socket.remoteAddress);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('drain', this.onDrain);
    socket.on('timeout', this.onTimeout);
    socket.on('error', () => undefined);
    socket.once('close', this.onClose);
    socket.setTimeout(owner.context().config.timeouts.header);
    socket.resume();
  }

  /** Closes the connection if it waits for a request (drain); a busy one closes after its response. */
  closeIfIdle(): void {
    if (this.state === S_HEAD && (this.pending === null || this.requests > 0)) this.socket.destroy();
  }

  takePending(): Buffer | null {
    const pending = this.pending;
    this.pending = null;
    return pending;
  }

  keepPending(rest: Buffer): void {
    this.pending = this.pending === null ? rest : Buffer.concat([this.pending, rest]);
  }

  /** The exchange is over: serve the next request on this connection, or close it. */
  exchangeDone(keepAlive: boolean): void {
    this.exchange = null;
    if (this.state === S_CLOSED) return;
    const context = this.owner.context();
    if (!keepAlive || this.owner.draining || this.clientEnded || this.requests >= context.config.limits.max_requests_per_connection) {
      this.state = S_CLOSED;
      this.socket.end();
      return;
    }
    this.state = S_HEAD;
    this.scanned = 0;
    this.socket.setTimeout(this.pending === null ? context.config.timeouts.idle : context.config.timeouts.header);
    this.socket.resume();
    if (this.pending !== null) this.readHead();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === S_BUSY) {
      if (this.exchange !== null && this.exchange.wantsBody) this.exchange.clientData(chunk);
      else {
        // a pipelined request (or body bytes not yet wanted): kept until this exchange takes them or is done
        this.keepPending(chunk);
        if (this.pending!.length > MAX_AHEAD) this.socket.pause();
      }
      return;
    }
    if (this.state !== S_HEAD) return;
    this.keepPending(chunk);
    if (this.requests > 0) this.socket.setTimeout(this.owner.context().config.timeouts.header);
    this.readHead();
  };

  private readonly onEnd = (): void => {
    this.clientEnded = true;
    if (this.state === S_HEAD) {
      this.state = S_CLOSED;
      this.socket.end();
    } else if (this.state === S_BUSY) this.exchange?.clientEnded();
  };

  private readonly onDrain = (): void => {
    this.exchange?.clientDrain();
  };

  private readonly onTimeout = (): void => {
    if (this.state === S_HEAD) {
      // a partial head past timeouts.header: 408; an idle keep-alive connection: closed quietly
      if (this.pending !== null) this.refuse(408, 'request head timeout', true);
      else this.socket.destroy();
    } else if (this.state === S_BUSY) this.exchange?.clientTimeout();
    else if (this.state === S_CLOSED) this.socket.destroy(); // answered and ended: the client lingers
  };

  private readonly onClose = (): void => {
    this.state = S_CLOSED;
    this.exchange?.abort();
  };

  private readHead(): void {
    const buf = this.pending!;
    const context = this.owner.context();
    const max = context.config.limits.max_header_size;
    // RFC 9112 2.2: empty lines before a request line are ignored (some clients send one after a body)
    let from = 0;
    while (from + 1 < buf.length && buf[from] === 0x0d && buf[from + 1] === 0x0a) from += 2;
    const end = findHeadEnd(buf, from, this.scanned, buf.length);
    if (end === -2) return this.refuse(400, 'bare LF in request head', true);
    if (end === -1) {
      if (buf.length - from > max) return this.refuse(431, 'request head too large', true);
      this.scanned = buf.length > 3 ? buf.length - 3 : 0;
      return;
    }
    if (end - from > max) return this.refuse(431, 'request head too large', true);
    const raw = from === 0 ? buf : buf.subarray(from);
    const status = parseRequestHead(raw, end - from, this.head, '', true);
    this.pending = end < buf.length ? buf.subarray(end) : null;
    this.scanned = 0;
    this.requests++;
    if (status !== 0) return this.refuse(status, 'malformed request', true);
    this.state = S_BUSY;
    this.socket.setTimeout(context.config.timeouts.body);
    if (this.head.method === 'CONNECT') {
      // the tunnel takes the socket's events over once the destination answers: nothing is read until then
      this.socket.pause();
      void this.tunnel(context);
    } else {
      this.exchange = this.exchanges ??= new HttpExchange(this);
      this.exchange.begin(context);
    }
  }

  /** A 4xx for a request refused before any destination was chosen (the head may not even be readable). */
  private refuse(status: number, reason: string, close: boolean): void {
    const context = this.owner.context();
    context.counters.bad_requests++;
    this.answer(context, { status, reason, extra: '', denial: undefined }, close, context.clock.monotonic());
  }

  /** Writes a refusal and logs it; closes the connection when `close` (else the next request may follow). */
  answer(context: ForwardContext, refusal: Refusal, close: boolean, started: number): void {
    if (refusal.denial !== undefined) context.counters.denied[refusal.denial]++;
    const head = this.head;
    const parsed = this.state === S_BUSY;
    writeLog(context, this.client, {
      method: parsed ? head.method : '',
      host: parsed ? head.hostname : '',
      port: 0,
      path: parsed ? head.path : '',
      status: refusal.status,
      reason: refusal.reason,
      user: undefined,
      upstream: undefined,
      bytes_in: 0,
      bytes_out: 0,
      started,
    });
    // an HTTP/1.0 client assumes the connection ends unless told otherwise
    const kept = !close && parsed && head.minor === 0 ? 'Connection: keep-alive\r\n' : '';
    this.sendAnswer(answer(refusal.status, refusal.reason, close, context.via, refusal.extra + kept), close);
  }

  /** Writes a whole answer the proxy made (a refusal, a filter's response); ends the connection when `close`. */
  sendAnswer(bytes: string | Buffer, close: boolean): void {
    if (this.state === S_CLOSED) return;
    this.socket.write(bytes);
    if (close) {
      this.state = S_CLOSED;
      this.socket.end();
      // a client that keeps sending (a body we will not read) must not hold the connection open
      this.socket.setTimeout(1000);
      this.socket.resume();
    } else this.exchangeDone(true);
  }

  private async tunnel(context: ForwardContext): Promise<void> {
    const started = context.clock.monotonic();
    const head = this.head;
    if (head.bodyKind !== BODY_NONE) {
      context.counters.bad_requests++;
      return this.answer(context, { status: 400, reason: 'CONNECT with a body', extra: '', denial: undefined }, true, started);
    }
    const verdict = await authorize(context, head, this.client, true);
    if (this.state === S_CLOSED) return;
    if (isRefusal(verdict)) {
      if (verdict.denial === undefined) context.counters.failed.dns += verdict.status === 502 ? 1 : 0;
      return this.answer(context, verdict, true, started);
    }
    const upstream = net.connect({ host: verdict.address, port: verdict.port, noDelay: true, allowHalfOpen: true });
    const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), context.config.timeouts.upstream_connect);
    const onClientClose = (): void => {
      clearTimeout(timer);
      upstream.destroy();
    };
    this.socket.once('close', onClientClose);
    upstream.once('error', (err) => {
      clearTimeout(timer);
      this.socket.off('close', onClientClose);
      const timedOut = err.message === 'connect timeout';
      context.counters.failed[timedOut ? 'connect_timeout' : 'connect']++;
      const reason = timedOut ? `connect to ${verdict.address}:${verdict.port} timed out` : `connect to ${verdict.address}:${verdict.port} failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`;
      this.answer(context, { status: timedOut ? 504 : 502, reason, extra: '', denial: undefined }, true, started);
    });
    upstream.once('connect', () => {
      clearTimeout(timer);
      upstream.removeAllListeners('error');
      this.socket.off('close', onClientClose);
      if (this.state === S_CLOSED) {
        upstream.destroy();
        return;
      }
      this.relay(context, upstream, verdict, started);
    });
  }

  /** The tunnel proper: bytes both ways with backpressure (pipe) and half-close, tunnel_idle on both sides. */
  private relay(context: ForwardContext, upstream: net.Socket, destination: Destination, started: number): void {
    const { host, port, user, address } = destination;
    const client = this.socket;
    this.state = S_TUNNEL;
    context.counters.tunnels++;
    client.off('data', this.onData);
    client.off('end', this.onEnd);
    client.write(CONNECT_ESTABLISHED);
    const early = this.takePending();
    if (early !== null) upstream.write(early);
    const idle = context.config.timeouts.tunnel_idle;
    client.setTimeout(idle);
    client.off('timeout', this.onTimeout);
    client.once('timeout', () => client.destroy());
    upstream.setTimeout(idle, () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
    let closed = 0;
    const done = (): void => {
      if (++closed < 2) return;
      const bytesIn = upstream.bytesWritten;
      const bytesOut = upstream.bytesRead;
      context.counters.bytes_in += bytesIn;
      context.counters.bytes_out += bytesOut;
      writeLog(context, this.client, { method: 'CONNECT', host, port, path: '', status: 200, reason: 'tunnel', user, upstream: `${address}:${port}`, bytes_in: bytesIn, bytes_out: bytesOut, started });
    };
    client.once('close', () => {
      upstream.destroy();
      done();
    });
    upstream.once('close', () => {
      client.destroy();
      done();
    });
  }
}
