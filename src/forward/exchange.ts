// One absolute-URI request through the forward proxy: checks (authorize.ts), then a kept-alive origin
// connection or a new one, the request re-framed (heads.ts) and its body streamed with backpressure, and
// the response relayed the same way. Framing is the L7 codec's: Content-Length bodies are counted,
// chunked ones validated by the chunked decoder as they pass, so the proxy always knows where a message
// ends and never forwards an ambiguous one. The origin connection goes back to the pool only when both
// messages ended cleanly.
import net from 'node:net';
import { ChunkedDecoder, findHeadEnd, parseResponseHead, equalsLower, BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE, type RequestHead, type ResponseHead } from '../l7/index.ts';
import { CONTINUE } from './answers.ts';
import { authorize, isRefusal, type Destination, type Refusal } from './authorize.ts';
import { writeLog, type ForwardContext } from './context.ts';
import type { FailureReason } from './counters.ts';
import { requestHead, responseHead } from './heads.ts';

/** Largest upstream response head read before the response is refused as malformed. */
const MAX_RESPONSE_HEAD = 64 * 1024;

/** The connection side an exchange talks to (ForwardConnection). */
export interface ExchangeHost {
  readonly socket: net.Socket;
  readonly client: string;
  readonly head: RequestHead;
  readonly responseHead: ResponseHead;
  takePending(): Buffer | null;
  keepPending(rest: Buffer): void;
  answer(context: ForwardContext, refusal: Refusal, close: boolean, started: number): void;
  exchangeDone(keepAlive: boolean): void;
}

export class HttpExchange {
  private readonly host: ExchangeHost;
  private readonly context: ForwardContext;
  private readonly started: number;
  private destination: Destination | undefined;
  private key = '';
  private upstream: net.Socket | null = null;
  private reused = false;
  private connected = false;
  private retried = false;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  // request body
  /** The client's body is still being read and sent on. */
  wantsBody = false;
  private requestDone = false;
  private bodyLeft = 0;
  private requestDecoder: ChunkedDecoder | null = null;
  private bodyBytes = 0;
  // response
  private responseBuf: Buffer | null = null;
  private responseScanned = 0;
  private headSeen = false;
  private responseKind = BODY_NONE;
  private responseLeft = 0;
  private responseDecoder: ChunkedDecoder | null = null;
  /** The response goes to an HTTP/1.0 client without its chunked framing (payload only, then close). */
  private dechunk = false;
  private closeClient = false;
  /** The origin connection cannot carry another request (it sent more than the response, or closes). */
  private upstreamSpent = false;
  private status = 0;
  private bytesIn = 0;
  private bytesOut = 0;

  constructor(host: ExchangeHost, context: ForwardContext) {
    this.host = host;
    this.context = context;
    this.started = context.clock.monotonic();
  }

  start(): void {
    const head = this.host.head;
    const raw = head.raw;
    if (!head.absoluteForm) return this.refuse({ status: 400, reason: 'expected an absolute URI (http://host/path) or CONNECT', extra: '', denial: undefined }, true);
    if (equalsLower(raw, head.targetStart, 'https://')) return this.refuse({ status: 400, reason: 'https URIs go through CONNECT', extra: '', denial: undefined }, true);
    if (head.bodyKind === BODY_LENGTH && head.contentLength > this.context.config.limits.max_body_size) {
      return this.refuse({ status: 413, reason: 'request body larger than limits.max_body_size', extra: '', denial: undefined }, true);
    }
    void authorize(this.context, head, this.host.client, false).then(
      (verdict) => this.authorized(verdict),
      (err: unknown) => this.refuse({ status: 502, reason: `proxy error: ${(err as Error).message}`, extra: '', denial: undefined }, true),
    );
  }

  private authorized(verdict: Destination | Refusal): void {
    if (this.finished) return;
    if (isRefusal(verdict)) {
      if (verdict.status === 502) this.context.counters.failed.dns++;
      return this.refuse(verdict, verdict.status === 400 || this.host.head.bodyKind !== BODY_NONE);
    }
    this.destination = verdict;
    this.key = `${verdict.address} ${verdict.port} ${verdict.host}`;
    const pooled = this.context.origins.take(this.key);
    if (pooled !== undefined) {
      this.reused = true;
      this.connected = true;
      this.context.counters.reused++;
      this.attach(pooled);
      this.send();
    } else this.connect();
  }

  private connect(): void {
    const { address, port } = this.destination!;
    const socket = net.connect({ host: address, port, noDelay: true, allowHalfOpen: true });
    this.reused = false;
    this.connected = false;
    this.attach(socket);
    this.timer = setTimeout(() => this.fail(504, 'connect_timeout', `connect to ${address}:${port} timed out`), this.context.config.timeouts.upstream_connect);
    socket.once('connect', this.onConnect);
  }

  private attach(socket: net.Socket): void {
    this.upstream = socket;
    socket.on('data', this.onUpstreamData);
    socket.on('end', this.onUpstreamEnd);
    socket.on('error', this.onUpstreamError);
    socket.on('close', this.onUpstreamClose);
    socket.on('drain', this.onUpstreamDrain);
    socket.resume();
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onUpstreamData);
    socket.off('end', this.onUpstreamEnd);
    socket.off('error', this.onUpstreamError);
    socket.off('close', this.onUpstreamClose);
    socket.off('drain', this.onUpstreamDrain);
    socket.off('connect', this.onConnect);
    socket.setTimeout(0);
  }

  private readonly onConnect = (): void => {
    clearTimeout(this.timer);
    this.connected = true;
    this.send();
  };

  /** Connected (or reused): the head goes up, then the body as the client sends it. */
  private send(): void {
    const { head } = this.host;
    const upstream = this.upstream!;
    upstream.write(requestHead(head, this.host.client, this.context), 'latin1');
    this.timer = setTimeout(() => this.fail(504, 'response_timeout', 'no response head within timeouts.upstream_response'), this.context.config.timeouts.upstream_response);
    if (head.bodyKind === BODY_NONE) {
      this.requestDone = true;
      return;
    }
    if (head.expectContinue) this.host.socket.write(CONTINUE);
    this.wantsBody = true;
    if (head.bodyKind === BODY_LENGTH) this.bodyLeft = head.contentLength;
    else this.requestDecoder = new ChunkedDecoder();
    const early = this.host.takePending();
    if (early !== null) this.clientData(early);
    if (this.wantsBody) this.host.socket.resume();
  }

  /** Request body bytes from the client (after the head). Bytes past the body are the next request's. */
  clientData(chunk: Buffer): void {
    if (this.finished || !this.wantsBody) return;
    let end = chunk.length;
    if (this.requestDecoder === null) {
      if (end > this.bodyLeft) end = this.bodyLeft;
      this.bodyLeft -= end;
    } else {
      const at = this.requestDecoder.decode(chunk, 0, chunk.length, null);
      if (at < 0) return this.failRequest(400, 'malformed chunked request body');
      end = at;
      if (this.requestDecoder.payload > this.context.config.limits.max_body_size) return this.failRequest(413, 'request body larger than limits.max_body_size');
    }
    this.bodyBytes += end;
    const complete = this.requestDecoder === null ? this.bodyLeft === 0 : this.requestDecoder.done;
    const full = end > 0 && this.upstream!.write(end === chunk.length ? chunk : chunk.subarray(0, end)) === false;
    if (complete) {
      this.wantsBody = false;
      this.requestDone = true;
      if (end < chunk.length) this.host.keepPending(chunk.subarray(end));
      this.host.socket.pause();
      if (this.headSeen && this.responseComplete()) this.complete();
    } else if (full) this.host.socket.pause();
  }

  /** The client half-closed: an unfinished body will not come. */
  clientEnded(): void {
    if (this.wantsBody) this.failRequest(400, 'client closed before the end of the request body');
  }

  clientTimeout(): void {
    if (this.wantsBody) this.failRequest(408, 'request body timeout');
  }

  /** The client's socket drained: the origin may send again. */
  clientDrain(): void {
    if (!this.finished) this.upstream?.resume();
  }

  private readonly onUpstreamDrain = (): void => {
    if (this.wantsBody) this.host.socket.resume();
  };

  private readonly onUpstreamData = (chunk: Buffer): void => {
    if (this.finished) return;
    if (this.headSeen) return this.relayBody(chunk, 0);
    this.responseBuf = this.responseBuf === null ? chunk : Buffer.concat([this.responseBuf, chunk]);
    this.readResponseHead();
  };

  private readResponseHead(): void {
    const buf = this.responseBuf!;
    const end = findHeadEnd(buf, 0, this.responseScanned, buf.length);
    if (end === -2 || (end === -1 && buf.length > MAX_RESPONSE_HEAD)) return this.fail(502, 'bad_response', 'malformed response head from the destination');
    if (end === -1) {
      this.responseScanned = buf.length > 3 ? buf.length - 3 : 0;
      return;
    }
    const { head } = this.host;
    const response = this.host.responseHead;
    if (!parseResponseHead(buf, end, response, head.method === 'HEAD', [])) return this.fail(502, 'bad_response', 'malformed response head from the destination');
    if (response.status < 200) {
      // interim responses (100, 102, 103) are the origin's business with us; 101 would need an Upgrade we never send
      if (response.status === 101) return this.fail(502, 'bad_response', 'unexpected 101 from the destination');
      this.responseBuf = end < buf.length ? buf.subarray(end) : null;
      this.responseScanned = 0;
      if (this.responseBuf !== null) this.readResponseHead();
      return;
    }
    clearTimeout(this.timer);
    this.headSeen = true;
    this.status = response.status;
    this.responseKind = response.bodyKind;
    this.dechunk = response.bodyKind === BODY_CHUNKED && head.minor === 0;
    this.closeClient = !head.keepAlive || response.bodyKind === BODY_UNTIL_CLOSE || this.dechunk;
    if (!response.keepAlive) this.upstreamSpent = true;
    if (response.bodyKind === BODY_LENGTH) this.responseLeft = response.contentLength;
    else if (response.bodyKind === BODY_CHUNKED) this.responseDecoder = new ChunkedDecoder();
    this.upstream!.setTimeout(this.context.config.timeouts.upstream_response, this.onUpstreamIdle);
    const text = responseHead(response, head.minor, this.closeClient, this.dechunk, this.context.via);
    this.bytesOut += text.length;
    if (!this.host.socket.write(text, 'latin1')) this.upstream!.pause();
    this.responseBuf = null;
    if (end < buf.length) this.relayBody(buf, end);
    else if (this.responseComplete()) this.complete();
  }

  private readonly dechunkSink = {
    chunkData: (buf: Buffer, start: number, end: number): void => {
      this.writeClient(buf.subarray(start, end));
    },
  };

  private relayBody(buf: Buffer, start: number): void {
    let end = buf.length;
    if (this.responseKind === BODY_LENGTH) {
      if (end - start > this.responseLeft) {
        end = start + this.responseLeft;
        this.upstreamSpent = true; // bytes after the response: never reuse this connection
      }
      this.responseLeft -= end - start;
    } else if (this.responseKind === BODY_CHUNKED) {
      const at = this.responseDecoder!.decode(buf, start, end, this.dechunk ? this.dechunkSink : null);
      if (at < 0) return this.fail(502, 'bad_response', 'malformed chunked response from the destination');
      if (at < end) this.upstreamSpent = true;
      end = at;
    } else if (this.responseKind === BODY_NONE) {
      this.upstreamSpent = true;
      end = start;
    }
    if (end > start && !this.dechunk) this.writeClient(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
    if (this.responseComplete()) this.complete();
  }

  private writeClient(buf: Buffer): void {
    this.bytesOut += buf.length;
    if (!this.host.socket.write(buf)) this.upstream?.pause();
  }

  private responseComplete(): boolean {
    switch (this.responseKind) {
      case BODY_LENGTH:
        return this.responseLeft === 0;
      case BODY_CHUNKED:
        return this.responseDecoder!.done;
      case BODY_UNTIL_CLOSE:
        return false;
      default:
        return true;
    }
  }

  private readonly onUpstreamIdle = (): void => {
    this.fail(504, 'response_timeout', 'the destination stopped sending within timeouts.upstream_response');
  };

  private readonly onUpstreamEnd = (): void => {
    if (this.finished) return;
    if (this.headSeen && this.responseKind === BODY_UNTIL_CLOSE) {
      this.upstreamSpent = true;
      return this.complete();
    }
    this.upstreamGone(undefined);
  };

  private readonly onUpstreamError = (err: Error): void => {
    if (!this.finished) this.upstreamGone(err);
  };

  private readonly onUpstreamClose = (): void => {
    if (!this.finished) this.upstreamGone(undefined);
  };

  /** The origin connection ended or failed before the response did. */
  private upstreamGone(err: Error | undefined): void {
    // A kept-alive connection the origin closed just as we reused it: the request never reached the
    // origin's application, so a bodyless request goes again once, on a new connection.
    if (this.reused && !this.retried && !this.headSeen && this.responseBuf === null && this.host.head.bodyKind === BODY_NONE) {
      this.retried = true;
      clearTimeout(this.timer);
      this.detach(this.upstream!);
      this.upstream!.destroy();
      this.upstream = null;
      return this.connect();
    }
    if (!this.connected && err !== undefined) {
      const code = (err as NodeJS.ErrnoException).code ?? err.message;
      return this.fail(502, 'connect', `connect to ${this.destination!.address}:${this.destination!.port} failed: ${code}`);
    }
    this.fail(502, 'upstream_closed', this.headSeen ? 'the destination closed before the end of the response' : 'the destination closed without a response');
  }

  /** A destination-side failure: 502/504 when the client has no response yet, else the connection is cut. */
  private fail(status: number, reason: FailureReason, detail: string): void {
    if (this.finished) return;
    this.context.counters.failed[reason]++;
    this.dropUpstream();
    if (!this.headSeen) return this.refuse({ status, reason: detail, extra: '', denial: undefined }, true);
    this.finished = true;
    this.status = status;
    this.log(detail);
    this.host.socket.destroy();
  }

  /** The client's request went wrong mid-body: the origin connection is spent, the client gets a 4xx if it can. */
  private failRequest(status: number, reason: string): void {
    if (this.finished) return;
    this.context.counters.bad_requests++;
    this.wantsBody = false;
    this.dropUpstream();
    if (!this.headSeen) return this.refuse({ status, reason, extra: '', denial: undefined }, true);
    this.finished = true;
    this.log(reason);
    this.host.socket.destroy();
  }

  private dropUpstream(): void {
    clearTimeout(this.timer);
    const upstream = this.upstream;
    this.upstream = null;
    if (upstream !== null) {
      this.detach(upstream);
      upstream.on('error', () => undefined);
      upstream.destroy();
    }
  }

  private refuse(refusal: Refusal, close: boolean): void {
    this.finished = true;
    this.wantsBody = false;
    this.context.counters.requests++;
    this.host.answer(this.context, refusal, close, this.started);
  }

  /** The response ended (and the request too, or it never will): pool the origin connection, serve the next request. */
  private complete(): void {
    if (this.finished) return;
    const requestDone = this.requestDone;
    if (!requestDone) {
      // the origin answered before the body ended: the client's connection cannot be reused for the next request
      this.closeClient = true;
      this.upstreamSpent = true;
      this.wantsBody = false;
    }
    this.finished = true;
    clearTimeout(this.timer);
    const upstream = this.upstream!;
    this.upstream = null;
    this.detach(upstream);
    if (this.upstreamSpent) upstream.destroy();
    else this.context.origins.put(this.key, upstream);
    this.context.counters.requests++;
    this.log('ok');
    this.host.exchangeDone(!this.closeClient);
  }

  /** The client went away: nothing more to send; the origin connection is not reusable. */
  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.wantsBody = false;
    this.dropUpstream();
    this.status = this.headSeen ? this.status : 0;
    this.log('client_closed');
  }

  private log(reason: string): void {
    const destination = this.destination;
    const counters = this.context.counters;
    this.bytesIn = this.bodyBytes;
    counters.bytes_in += this.bytesIn;
    counters.bytes_out += this.bytesOut;
    writeLog(this.context, this.host.client, {
      method: this.host.head.method,
      host: destination?.host ?? this.host.head.hostname,
      port: destination?.port ?? 0,
      path: this.host.head.path,
      status: this.status,
      reason,
      user: destination?.user,
      upstream: destination === undefined ? undefined : `${destination.address}:${destination.port}`,
      bytes_in: this.bytesIn,
      bytes_out: this.bytesOut,
      started: this.started,
    });
  }
}
