// Absolute-URI requests through the forward proxy: checks (authorize.ts), then a kept-alive origin
// connection or a new one, the request re-framed (heads.ts) and its body streamed with backpressure, and
// the response relayed the same way. Framing is the L7 codec's: Content-Length bodies are counted,
// chunked ones validated by the chunked decoder as they pass, so the proxy always knows where a message
// ends and never forwards an ambiguous one. The origin connection goes back to the pool only when both
// messages ended cleanly. One HttpExchange serves every request of a client connection in turn (begin()
// starts the next), so a request allocates no handlers.
import {
  ChunkedDecoder,
  findHeadEnd,
  parseResponseHead,
  equalsLower,
  fieldsResponse,
  localResponseFields,
  isLocal,
  isPending,
  H1ResponseView,
  LineWriter,
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  type BodySink,
  type LocalResponse,
  type RequestHead,
  type RequestVerdict,
  type ResponseHead,
} from '../l7/index.ts';
import type net from 'node:net';
import { messageOf } from '../core/index.ts';
import { CONTINUE } from './answers.ts';
import { authorize, isRefusal, type Destination, type Refusal } from './authorize.ts';
import { writeLog, type ForwardContext } from './context.ts';
import type { FailureReason } from './counters.ts';
import { ClientBodySink, ForwardFilterContext, type TransformedTarget } from './filters.ts';
import { requestHead, responseHead, FRAME_AS_SENT, FRAME_NEW_LENGTH, FRAME_PLAIN, type HeadEdits } from './heads.ts';
import { OriginLink, type OriginOwner } from './origin-pool.ts';

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
  sendAnswer(bytes: Buffer, close: boolean): void;
  exchangeDone(keepAlive: boolean): void;
}

const badRequest = (status: number, reason: string): Refusal => ({ status, reason, extra: '', denial: undefined });

export class HttpExchange implements OriginOwner, TransformedTarget {
  private readonly host: ExchangeHost;
  private context!: ForwardContext;
  /** Bumped by begin() and abort(): an authorize() answer for an earlier request is dropped. */
  private generation = 0;
  private started = 0;
  private destination: Destination | undefined;
  private key = '';
  private link: OriginLink | null = null;
  private reused = false;
  private retried = false;
  private connected = false;
  private finished = true;
  // request body
  /** The client's body is still being read and sent on. */
  wantsBody = false;
  private requestDone = false;
  private bodyLeft = 0;
  private readonly requestDecoder = new ChunkedDecoder();
  private chunkedRequest = false;
  private bodyBytes = 0;
  // response
  private responseBuf: Buffer | null = null;
  private responseScanned = 0;
  private headSeen = false;
  private responseKind = BODY_NONE;
  private responseLeft = 0;
  private readonly responseDecoder = new ChunkedDecoder();
  /** The response goes to an HTTP/1.0 client without its chunked framing (payload only, then close). */
  private dechunk = false;
  private closeClient = false;
  /** The origin connection cannot carry another request (it sent more than the response, or closes). */
  private upstreamSpent = false;
  private status = 0;
  private bytesOut = 0;
  private readonly dechunkSink = {
    chunkData: (buf: Buffer, start: number, end: number): void => {
      this.payload(buf.subarray(start, end));
    },
  };
  // middleware (filters.ts): set when the listener has some
  private readonly filterCtx = new ForwardFilterContext();
  /** The request went through the request filters (the response filters run too). */
  private filtered = false;
  /** The upstream request filters' edits, made once per request (a retried send reuses them). */
  private upstreamEdits: HeadEdits | null | undefined = undefined;
  /** A response filter's body transform: the response's payload goes in here, its output to the client. */
  private sink: (BodySink & { abort?(): void }) | null = null;
  private sinkEnded = false;
  private transformEnded = false;
  /** The transform asked for the origin to wait (its input backlog is full): a client drain does not resume it. */
  private held = false;

  constructor(host: ExchangeHost) {
    this.host = host;
  }

  /** The next request of the connection (its head parsed into host.head). */
  begin(context: ForwardContext): void {
    this.context = context;
    this.generation++;
    this.started = context.clock.monotonic();
    this.destination = undefined;
    this.link = null;
    this.reused = false;
    this.retried = false;
    this.connected = false;
    this.finished = false;
    this.wantsBody = false;
    this.requestDone = false;
    this.bodyLeft = 0;
    this.chunkedRequest = false;
    this.bodyBytes = 0;
    this.responseBuf = null;
    this.responseScanned = 0;
    this.headSeen = false;
    this.responseKind = BODY_NONE;
    this.responseLeft = 0;
    this.dechunk = false;
    this.closeClient = false;
    this.upstreamSpent = false;
    this.status = 0;
    this.bytesOut = 0;
    this.filtered = false;
    this.upstreamEdits = undefined;
    this.sink = null;
    this.sinkEnded = false;
    this.transformEnded = false;
    this.held = false;
    const head = this.host.head;
    if (!head.absoluteForm) return this.refuse(badRequest(400, 'expected an absolute URI (http://host/path) or CONNECT'), true);
    if (equalsLower(head.raw, head.targetStart, 'https://')) return this.refuse(badRequest(400, 'https URIs go through CONNECT'), true);
    if (head.bodyKind === BODY_LENGTH && head.contentLength > context.config.limits.max_body_size) {
      return this.refuse(badRequest(413, 'request body larger than limits.max_body_size'), true);
    }
    const generation = this.generation;
    authorize(context, head, this.host.client, false).then(
      (verdict) => {
        if (generation === this.generation) this.authorized(verdict);
      },
      (err: unknown) => {
        if (generation === this.generation) this.refuse(badRequest(502, `proxy error: ${(err as Error).message}`), true);
      },
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
    const chain = this.context.filters;
    if (chain === null) return this.takeOrigin();
    // "request filters" (a shared cache's fresh copy, a rate limit) may answer before any origin connection
    this.filtered = true;
    this.filterCtx.reset(this.host.head, this.host.client, this.context.config.name);
    let decided: RequestVerdict | Promise<RequestVerdict>;
    try {
      decided = chain.onRequest(this.filterCtx);
    } catch (err) {
      return this.filterFailed(err);
    }
    if (!isPending(decided)) return this.requestFiltered(decided);
    const generation = this.generation;
    decided.then(
      (settled) => {
        if (generation === this.generation && !this.finished) this.requestFiltered(settled);
      },
      (err: unknown) => {
        if (generation === this.generation && !this.finished) this.filterFailed(err);
      },
    );
  }

  private requestFiltered(verdict: RequestVerdict): void {
    if (verdict === undefined) return this.takeOrigin();
    // the request body (if any) is not read: the connection cannot carry another request
    this.finished = true;
    this.wantsBody = false;
    this.context.counters.requests++;
    this.sendLocal(verdict, this.host.head.bodyKind !== BODY_NONE, this.filterCtx.reason === '' ? 'filter' : this.filterCtx.reason);
  }

  private filterFailed(err: unknown): void {
    this.refuse(badRequest(500, `middleware failed: ${(err as Error).message}`), true);
  }

  private takeOrigin(): void {
    const pooled = this.context.origins.take(this.key, this);
    if (pooled !== undefined) {
      this.link = pooled;
      this.reused = true;
      this.connected = true;
      this.context.counters.reused++;
      this.send();
    } else this.connect();
  }

  private connect(): void {
    const { address, port } = this.destination!;
    this.reused = false;
    this.connected = false;
    this.link = new OriginLink(this.key, address, port, this, this.context.config.timeouts.upstream_connect);
  }

  upstreamConnect(): void {
    this.connected = true;
    this.send();
  }

  /** Connected (or reused): the head goes up, then the body as the client sends it. */
  private send(): void {
    const { head } = this.host;
    const socket = this.link!.socket;
    if (this.upstreamEdits === undefined) this.upstreamEdits = this.upstreamRequestEdits();
    socket.write(requestHead(head, this.host.client, this.context, this.upstreamEdits), 'latin1');
    // until the response head: no byte for upstream_response is a 504; after it, the same idle limit
    socket.setTimeout(this.context.config.timeouts.upstream_response);
    if (head.bodyKind === BODY_NONE) {
      this.requestDone = true;
      return;
    }
    if (head.expectContinue) this.host.socket.write(CONTINUE);
    this.wantsBody = true;
    if (head.bodyKind === BODY_LENGTH) this.bodyLeft = head.contentLength;
    else {
      this.chunkedRequest = true;
      this.requestDecoder.reset();
    }
    const early = this.host.takePending();
    if (early !== null) this.clientData(early);
    if (this.wantsBody) this.host.socket.resume();
  }

  /** "upstream request filters": their edits of the head going to the origin (null: none). */
  private upstreamRequestEdits(): HeadEdits | null {
    const chain = this.filtered ? this.context.filters : null;
    if (chain === null || !chain.editsUpstream) return null;
    const writer = new LineWriter('');
    chain.onUpstreamRequest(this.filterCtx, writer);
    return writer;
  }

  /** Request body bytes from the client (after the head). Bytes past the body are the next request's. */
  clientData(chunk: Buffer): void {
    if (this.finished || !this.wantsBody) return;
    let end = chunk.length;
    if (!this.chunkedRequest) {
      if (end > this.bodyLeft) end = this.bodyLeft;
      this.bodyLeft -= end;
    } else {
      const at = this.requestDecoder.decode(chunk, 0, chunk.length, null);
      if (at < 0) return this.failRequest(400, 'malformed chunked request body');
      end = at;
      if (this.requestDecoder.payload > this.context.config.limits.max_body_size) return this.failRequest(413, 'request body larger than limits.max_body_size');
    }
    this.bodyBytes += end;
    const complete = this.chunkedRequest ? this.requestDecoder.done : this.bodyLeft === 0;
    const full = end > 0 && this.link!.socket.write(end === chunk.length ? chunk : chunk.subarray(0, end)) === false;
    if (complete) {
      this.wantsBody = false;
      this.requestDone = true;
      if (end < chunk.length) this.host.keepPending(chunk.subarray(end));
      if (this.headSeen && this.responseComplete()) this.complete();
    } else if (full) this.host.socket.pause();
  }

  /**
   * The client half-closed: an unfinished body will not come. After a whole request, before its answer
   * began, the client left (as the edge's HTTP/1.1 listeners take it, and nginx): the origin request is
   * dropped, 499. Once the answer has begun it is still sent: the client may be reading it.
   */
  clientEnded(): void {
    if (this.wantsBody) return this.failRequest(400, 'client closed before the end of the request body');
    if (this.finished || this.headSeen) return;
    this.abort();
    this.host.socket.destroy();
  }

  clientTimeout(): void {
    if (this.wantsBody) this.failRequest(408, 'request body timeout');
  }

  /** The client's socket drained: the origin may send again. */
  clientDrain(): void {
    if (!this.finished && !this.held) this.link?.socket.resume();
  }

  holdOrigin(): void {
    this.held = true;
    this.link?.socket.pause();
  }

  /** The transform has room again: the origin resumes unless the client is still full. */
  releaseOrigin(): void {
    this.held = false;
    if (!this.finished && !this.host.socket.writableNeedDrain) this.link?.socket.resume();
  }

  upstreamDrain(): void {
    if (this.wantsBody) this.host.socket.resume();
  }

  upstreamData(chunk: Buffer): void {
    if (this.finished) return;
    try {
      if (this.headSeen) return this.relayBody(chunk, 0);
      this.responseBuf = this.responseBuf === null ? chunk : Buffer.concat([this.responseBuf, chunk]);
      this.readResponseHead();
    } catch (err) {
      this.internalError(err);
    }
  }

  /**
   * A bug surfaced in a response hook or a body transform (the phase boundary, as the edge's HTTP/1.1
   * listeners have it): logged, this exchange and its client connection are dropped, the worker goes on.
   */
  private internalError(err: unknown): void {
    this.context.logger.error({ listener: this.context.config.name, err: messageOf(err), stack: err instanceof Error ? err.stack : undefined }, 'forward: internal error');
    if (this.finished) return;
    this.cut(500, 'internal_error');
    this.host.socket.destroy();
  }

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
    this.headSeen = true;
    this.status = response.status;
    this.responseKind = response.bodyKind;
    this.dechunk = response.bodyKind === BODY_CHUNKED && head.minor === 0;
    this.closeClient = !head.keepAlive || response.bodyKind === BODY_UNTIL_CLOSE || this.dechunk;
    if (!response.keepAlive) this.upstreamSpent = true;
    if (response.bodyKind === BODY_LENGTH) this.responseLeft = response.contentLength;
    else if (response.bodyKind === BODY_CHUNKED) this.responseDecoder.reset();
    let framing = this.dechunk ? FRAME_PLAIN : FRAME_AS_SENT;
    let chunked = false;
    let edits: HeadEdits | null = null;
    const chain = this.filtered ? this.context.filters : null;
    if (chain !== null && chain.editsResponse) {
      // "response filters": head edits, a body transform (a cache storing what passes, compression), or a
      // replacing answer (the stored 200 for a revalidation's 304, a stale copy for a 5xx)
      const writer = new LineWriter('');
      const { address, port } = this.destination!;
      const verdict = chain.onResponse(this.filterCtx, writer, new H1ResponseView(response, `${address}:${port}`));
      if (verdict !== undefined && isLocal(verdict)) return this.replaceResponse(verdict, response.bodyKind === BODY_NONE);
      edits = writer;
      if (verdict !== undefined) {
        if (response.bodyKind !== BODY_NONE) {
          // the transform sees payload: the origin's chunked framing is decoded here
          if (response.bodyKind === BODY_CHUNKED) this.dechunk = true;
          if (verdict.keepsLength && response.bodyKind === BODY_LENGTH) framing = FRAME_PLAIN;
          else {
            framing = FRAME_NEW_LENGTH;
            if (head.minor === 1) chunked = true;
            else this.closeClient = true;
          }
        }
        this.sink = verdict.open(new ClientBodySink(this, chunked));
      }
    }
    const text = responseHead(response, head.minor, this.closeClient, framing, chunked, this.context.via, edits);
    this.bytesOut += text.length;
    // the head and the body bytes that came with it leave in one write (writev), not one syscall each
    const client = this.host.socket;
    client.cork();
    if (!client.write(text, 'latin1')) this.link!.socket.pause();
    this.responseBuf = null;
    if (end < buf.length) this.relayBody(buf, end);
    else if (this.responseComplete()) this.upstreamBodyEnded();
    client.uncork();
  }

  /**
   * A response filter answered instead of the origin's response: its answer goes to the client, and the
   * origin connection is kept only when its response had no body left to read.
   */
  private replaceResponse(answer: LocalResponse, bodiless: boolean): void {
    this.headSeen = true;
    this.responseKind = BODY_NONE;
    if (!bodiless) this.upstreamSpent = true;
    this.responseBuf = null;
    this.status = answer.status;
    const bytes = this.localBytes(answer, !this.host.head.keepAlive || !this.requestDone);
    this.bytesOut += bytes.length;
    this.host.socket.write(bytes);
    this.complete();
  }

  /** A filter's answer as response bytes (Via and Connection added, as on every response through the proxy). */
  private localBytes(answer: LocalResponse, close: boolean): Buffer {
    const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
    const fields = localResponseFields(answer, new Date().toUTCString(), body.length);
    // an HTTP/1.0 client assumes the connection ends unless told otherwise (as responseHead says too)
    const lines = `Via: 1.1 ${this.context.via}\r\n${close ? 'Connection: close\r\n' : this.host.head.minor === 0 ? 'Connection: keep-alive\r\n' : ''}`;
    return fieldsResponse(answer.status, fields, lines, this.host.head.method === 'HEAD' ? null : body);
  }

  /**
   * A filter's answer for a request no origin response came for (before or instead of it), logged with
   * `reason`; `close` ends the client connection. Logged before it is sent: sending may start the
   * connection's next request on this same exchange object.
   */
  private sendLocal(answer: LocalResponse, close: boolean, reason: string): void {
    close ||= !this.host.head.keepAlive;
    this.status = answer.status;
    const bytes = this.localBytes(answer, close);
    this.bytesOut += bytes.length;
    this.log(reason);
    this.host.sendAnswer(bytes, close);
  }

  /** The origin's body is all here: through the transform when there is one, then the response completes. */
  private upstreamBodyEnded(): void {
    if (this.sink === null) return this.complete();
    if (this.sinkEnded) return;
    this.sinkEnded = true;
    this.sink.end();
  }

  /** The transform's output ended (ClientBodySink): the client has the whole response. */
  transformedEnd(): void {
    this.transformEnded = true;
    this.complete();
  }

  /** Response body payload: into the transform when a filter set one, else straight to the client. */
  private payload(buf: Buffer): void {
    if (this.sink !== null) this.sink.write(buf);
    else this.writeClient(buf);
  }

  private relayBody(buf: Buffer, start: number): void {
    let end = buf.length;
    if (this.responseKind === BODY_LENGTH) {
      if (end - start > this.responseLeft) {
        end = start + this.responseLeft;
        this.upstreamSpent = true; // bytes after the response: never reuse this connection
      }
      this.responseLeft -= end - start;
    } else if (this.responseKind === BODY_CHUNKED) {
      const at = this.responseDecoder.decode(buf, start, end, this.dechunk ? this.dechunkSink : null);
      if (at < 0) return this.fail(502, 'bad_response', 'malformed chunked response from the destination');
      if (at < end) this.upstreamSpent = true;
      end = at;
    } else if (this.responseKind === BODY_NONE) {
      this.upstreamSpent = true;
      end = start;
    }
    if (end > start && !this.dechunk) this.payload(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
    if (this.responseComplete()) this.upstreamBodyEnded();
  }

  writeClient(buf: Buffer): void {
    this.bytesOut += buf.length;
    if (!this.host.socket.write(buf)) this.link?.socket.pause();
  }

  private responseComplete(): boolean {
    switch (this.responseKind) {
      case BODY_LENGTH:
        return this.responseLeft === 0;
      case BODY_CHUNKED:
        return this.responseDecoder.done;
      case BODY_UNTIL_CLOSE:
        return false;
      default:
        return true;
    }
  }

  upstreamTimeout(): void {
    // the whole response is read and a transform is finishing it: the origin owes nothing more
    if (this.sinkEnded) return;
    const { address, port } = this.destination!;
    if (!this.connected) return this.fail(504, 'connect_timeout', `connect to ${address}:${port} timed out`);
    this.fail(504, 'response_timeout', this.headSeen ? 'the destination stopped sending within timeouts.upstream_response' : 'no response head within timeouts.upstream_response');
  }

  upstreamEnd(): void {
    if (this.finished) return;
    if (this.headSeen && this.responseKind === BODY_UNTIL_CLOSE) {
      this.upstreamSpent = true;
      return this.upstreamBodyEnded();
    }
    this.upstreamGone(undefined);
  }

  upstreamError(err: Error): void {
    if (!this.finished) this.upstreamGone(err);
  }

  upstreamClose(): void {
    if (!this.finished) this.upstreamGone(undefined);
  }

  /** The origin connection ended or failed before the response did. */
  private upstreamGone(err: Error | undefined): void {
    // the origin closed after the whole response (Connection: close) while a transform (zlib, off the
    // thread) still finishes it: the client gets the rest, the connection is not pooled
    if (this.sinkEnded) {
      this.upstreamSpent = true;
      return;
    }
    // A kept-alive connection the origin closed just as we reused it: the request never reached the
    // origin's application, so a bodyless request goes again once, on a new connection.
    if (this.reused && !this.retried && !this.headSeen && this.responseBuf === null && this.host.head.bodyKind === BODY_NONE) {
      this.retried = true;
      this.link!.destroy();
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
    if (!this.headSeen) {
      // a filter may answer instead of the error (a shared cache's stale copy: stale-if-error)
      const chain = this.filtered ? this.context.filters : null;
      const instead = chain !== null && chain.handlesFailure ? chain.onUpstreamFailure(this.filterCtx, status) : undefined;
      if (instead === undefined) return this.refuse(badRequest(status, detail), true);
      this.finished = true;
      this.wantsBody = false;
      this.context.counters.requests++;
      return this.sendLocal(instead, true, this.filterCtx.reason === '' ? reason : `${reason},${this.filterCtx.reason}`);
    }
    this.cutTransform();
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
    if (!this.headSeen) return this.refuse(badRequest(status, reason), true);
    this.cutTransform();
    this.finished = true;
    this.log(reason);
    this.host.socket.destroy();
  }

  /** The response was cut: a transform must not finish what it made (a cache must not store it). */
  private cutTransform(): void {
    if (this.sink === null || this.sinkEnded) return;
    this.sinkEnded = true;
    this.sink.abort?.();
  }

  private dropUpstream(): void {
    this.link?.destroy();
    this.link = null;
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
    // a transform still holds output (zlib's last block): it completes the response when it ends
    if (this.sink !== null && !this.transformEnded) return;
    if (!this.requestDone) {
      // the origin answered before the body ended: the client's connection cannot be reused for the next request
      this.closeClient = true;
      this.upstreamSpent = true;
      this.wantsBody = false;
    }
    this.finished = true;
    const link = this.link!;
    this.link = null;
    if (this.upstreamSpent) link.destroy();
    else this.context.origins.put(link);
    this.context.counters.requests++;
    this.log('ok');
    this.host.exchangeDone(!this.closeClient);
  }

  /** The client went away: nothing more to send; the origin connection is not reusable. */
  abort(): void {
    this.generation++;
    if (this.finished) return;
    this.cut(499, 'client_closed');
  }

  /**
   * The exchange ends without completing: nothing more is relayed either way, the origin connection is
   * dropped, and the line is logged with `status` when no answer had begun (else the answer's status).
   */
  private cut(status: number, reason: string): void {
    this.cutTransform();
    this.finished = true;
    this.wantsBody = false;
    this.dropUpstream();
    if (!this.headSeen) this.status = status;
    this.log(reason);
  }

  private log(reason: string): void {
    const destination = this.destination;
    const counters = this.context.counters;
    counters.bytes_in += this.bodyBytes;
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
      bytes_in: this.bodyBytes,
      bytes_out: this.bytesOut,
      started: this.started,
    });
  }
}
