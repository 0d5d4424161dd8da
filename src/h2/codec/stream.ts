// One request stream of the HTTP/2 codec, and the L7 exchange's downstream for it: the response goes out
// as HEADERS and DATA frames within the client's flow-control windows (what does not fit waits in the
// stream, and the exchange is told to pause its upstream), the request body comes in within ours (a
// paused exchange stops the WINDOW_UPDATEs of its stream only, so one slow upstream never stalls the
// connection).
import type { EdgeError, HttpDate } from '../../core/index.ts';
import type { ExchangeDownstream, ExchangeHandle } from '../../l7/index.ts';
import { encodeGrpcMessage, grpcCodeForHttp } from '../grpc.ts';
import { appendResponseFields, forwardable } from '../headers.ts';
import { E_FLOW_CONTROL_ERROR, E_INTERNAL_ERROR, E_NO_ERROR, E_PROTOCOL_ERROR } from './frames.ts';
// sendBytes writes payloads up to this size at once: the output copies them (larger ones it keeps by reference)
import { COPY_LIMIT } from './output.ts';

/** What a stream needs of its connection. */
export interface StreamConnection {
  /** Send window of the connection (shared by its streams). */
  sendWindow: number;
  readonly peerMaxFrame: number;
  /** Receive window we give each stream (our SETTINGS_INITIAL_WINDOW_SIZE). */
  readonly streamWindow: number;
  /** Writes HEADERS (and CONTINUATION) frames; returns where the HEADERS frame's flags byte is. */
  writeHeaders(id: number, status: number, fields: readonly string[], endStream: boolean): void;
  /** Date of the responses the codec makes itself (errors, 431, 405), formatted once per second. */
  readonly date: HttpDate;
  /** Sets END_STREAM on the HEADERS frame just written for `id` when nothing else was written since; false if it cannot. */
  endOnHeaders(id: number): boolean;
  writeData(id: number, chunk: Buffer, start: number, end: number, endStream: boolean): void;
  writeRst(id: number, code: number): void;
  writeWindowUpdate(id: number, increment: number): void;
  /** The stream waits for the connection's send window. */
  block(stream: CodecStream): void;
  /** The socket has more queued than it should: producers must wait for drain. */
  congested(stream: CodecStream): boolean;
  streamClosed(stream: CodecStream): void;
}

/** Bytes a stream may hold waiting for its windows before its exchange is asked to pause. */
const STREAM_HIGH_WATER = 64 * 1024;
/** Request bytes still to come that are read and dropped after a complete response, rather than reset. */
const DRAIN_REST = 64 * 1024;
const TEXT_PLAIN = 'text/plain; charset=utf-8';

export class CodecStream implements ExchangeDownstream {
  readonly id: number;
  private readonly conn: StreamConnection;
  handle: ExchangeHandle | null = null;
  sendWindow: number;
  private recvWindow: number;
  private recvUnacked = 0;
  /** The client sent END_STREAM (or reset). */
  remoteClosed: boolean;
  /** END_STREAM written or queued. */
  private ended = false;
  closed = false;
  /** end() or fail() was called: the exchange is over. */
  private done = false;
  headersSent = false;
  /** Blocked on the connection window (in the connection's list). */
  blocked = false;
  /** sendData returned false: handle.drain() is owed. */
  needDrain = false;
  /** gRPC request: errors are answered with a grpc-status, the response may end with trailers. */
  readonly grpc: boolean;
  private readonly extra: Readonly<Record<string, string>> | undefined;
  private readonly expectedLength: number;
  private received = 0;
  private waitsForTrailers = false;
  /** Body bytes still to come when the response has a content-length (and no trailers); -1 otherwise. */
  private remaining = -1;
  /** DATA waiting for window: chunks from `queueOffset` of the first. */
  private queue: Buffer[] | null = null;
  private queueOffset = 0;
  queuedBytes = 0;
  /** END_STREAM (with these trailers, when not null) goes out once the queue is sent. */
  private endQueued = false;
  private trailersQueued: string[] | null = null;
  /** Request body held while the exchange has paused it. */
  private paused = false;
  private held: Buffer[] | null = null;
  private heldEnd = false;

  constructor(id: number, conn: StreamConnection, peerInitialWindow: number, remoteClosed: boolean, grpc: boolean, expectedLength: number, extra: Readonly<Record<string, string>> | undefined) {
    this.id = id;
    this.conn = conn;
    this.sendWindow = peerInitialWindow;
    this.recvWindow = conn.streamWindow;
    this.remoteClosed = remoteClosed;
    this.grpc = grpc;
    this.expectedLength = expectedLength;
    this.extra = extra;
  }

  // ---- from the connection

  /** A DATA frame's payload [start, end) of a frame of `frameLength` bytes (padding included). */
  receiveData(buf: Buffer, start: number, end: number, endStream: boolean, frameLength: number): void {
    if (frameLength > this.recvWindow) return this.reset(E_FLOW_CONTROL_ERROR);
    this.recvWindow -= frameLength;
    this.received += end - start;
    // content-length must match the DATA the stream carries (RFC 9113 §8.1.1)
    if (this.expectedLength >= 0 && (this.received > this.expectedLength || (endStream && this.received !== this.expectedLength))) return this.reset(E_PROTOCOL_ERROR);
    if (endStream) this.remoteClosed = true;
    if (this.paused) {
      if (end > start) (this.held ??= []).push(buf.subarray(start, end));
      if (endStream) this.heldEnd = true;
      // padding is never delivered: its window comes back at once
      this.grant(frameLength - (end - start));
      return;
    }
    if (end > start) this.handle?.bodyData(buf.subarray(start, end));
    this.grant(frameLength);
    if (endStream) {
      this.handle?.bodyEnd();
      if (this.ended && this.queue === null) this.close(false);
    }
  }

  /** Gives `bytes` of receive window back to the client (batched: one WINDOW_UPDATE per half window). */
  private grant(bytes: number): void {
    if (this.remoteClosed || this.closed || bytes === 0) return;
    this.recvUnacked += bytes;
    if (this.recvUnacked >= this.conn.streamWindow / 2) {
      this.conn.writeWindowUpdate(this.id, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
  }

  /** The request's trailers (or an empty HEADERS with END_STREAM) ended the request. */
  receiveEnd(): void {
    if (this.expectedLength >= 0 && this.received !== this.expectedLength) return this.reset(E_PROTOCOL_ERROR);
    this.remoteClosed = true;
    if (this.paused) this.heldEnd = true;
    else this.handle?.bodyEnd();
    if (this.ended && this.queue === null) this.close(false);
  }

  /** WINDOW_UPDATE for this stream (one that overflows the window resets it). */
  windowUpdate(increment: number): void {
    this.sendWindow += increment;
    if (this.sendWindow > 0x7fff_ffff) return this.reset(E_FLOW_CONTROL_ERROR);
    this.pump();
  }

  /** The client's SETTINGS_INITIAL_WINDOW_SIZE changed by `delta`; false when the window overflowed. */
  initialWindowChanged(delta: number): boolean {
    this.sendWindow += delta;
    if (this.sendWindow > 0x7fff_ffff) return false;
    if (delta > 0) this.pump();
    return true;
  }

  /** The client reset the stream, or the connection is gone: an exchange still running is aborted. */
  remoteReset(): void {
    this.remoteClosed = true;
    this.close(true);
  }

  /** Resets the stream from our side (an exchange still running is aborted). */
  reset(code: number): void {
    if (this.closed) return;
    this.conn.writeRst(this.id, code);
    this.remoteClosed = true;
    this.close(true);
  }

  /**
   * `abort`: tell a running exchange that the client is gone. Not when the response's END_STREAM closed
   * the stream: the exchange is finishing then (its end() follows the last sendData).
   */
  private close(abort: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = null;
    this.held = null;
    this.queuedBytes = 0;
    this.conn.streamClosed(this);
    if (abort && !this.done) this.handle?.abort();
  }

  // ---- ExchangeDownstream

  sendHead(status: number, headers: string[]): void {
    if (this.closed || this.headersSent) return;
    // Trailers only when the upstream announced them (Trailer) or for gRPC.
    let trailers = this.grpc;
    let length = -1;
    // a list that needs no change (lower-case names, nothing to drop or add: an upstream's, as the bridge
    // hands it over) is encoded as it is, not copied
    let asIs = this.extra === undefined;
    for (let i = 0; i < headers.length; i += 2) {
      const sent = headers[i];
      const name = sent.toLowerCase();
      if (name === 'trailer') trailers = true;
      else if (name === 'content-length') length = Number(headers[i + 1]);
      if (asIs && (name !== sent || !forwardable(name, headers[i + 1]) || name === 'te')) asIs = false;
    }
    this.waitsForTrailers = trailers;
    this.remaining = !trailers && Number.isSafeInteger(length) ? length : -1;
    this.headersSent = true;
    this.conn.writeHeaders(this.id, status, asIs ? headers : appendResponseFields([], headers, this.extra), false);
  }

  sendData(chunk: Buffer): boolean {
    if (this.closed || this.ended) return true;
    let end = false;
    if (this.remaining > 0) {
      this.remaining -= chunk.length;
      end = this.remaining <= 0;
    }
    if (end) this.ended = this.endQueued = true;
    if (chunk.length > 0) {
      if (this.queue === null) this.sendNow(chunk, 0, chunk.length, false);
      else this.enqueue(chunk);
    }
    this.pump();
    if (this.closed) return true;
    if (this.queuedBytes > STREAM_HIGH_WATER || this.conn.congested(this)) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Bytes that [start, end) of the shared read buffer holds (the bridge's response body): written now when
   * nothing waits and the windows take them whole in one frame (the frame copies them), else copied and
   * sent as sendData sends. Returns sendData's verdict.
   */
  sendBytes(buf: Buffer, start: number, end: number): boolean {
    const n = end - start;
    if (this.closed || this.ended || this.queue !== null || n === 0 || n > COPY_LIMIT || n > this.sendWindow || n > this.conn.sendWindow || n > this.conn.peerMaxFrame) {
      const chunk = Buffer.allocUnsafe(n);
      buf.copy(chunk, 0, start, end);
      return this.sendData(chunk);
    }
    if (this.remaining > 0) {
      this.remaining -= n;
      if (this.remaining <= 0) this.ended = this.endQueued = true;
    }
    this.sendNow(buf, start, end, true);
    if (this.closed) return true;
    this.pump();
    if (this.closed) return true;
    if (this.conn.congested(this)) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Nothing is queued: as much of chunk[start, end) as the windows allow goes out now, with END_STREAM on
   * the last frame when it was asked for; the rest is queued (`whole`: the caller checked that it all fits).
   */
  private sendNow(chunk: Buffer, start: number, end: number, whole: boolean): void {
    const conn = this.conn;
    let offset = start;
    while (offset < end) {
      const window = Math.min(conn.sendWindow, this.sendWindow);
      if (window <= 0) break;
      const n = Math.min(window, conn.peerMaxFrame, end - offset);
      const endHere = offset + n === end && this.endQueued && this.trailersQueued === null;
      conn.writeData(this.id, chunk, offset, offset + n, endHere);
      conn.sendWindow -= n;
      this.sendWindow -= n;
      offset += n;
      if (endHere) {
        this.endQueued = false;
        return this.localEnd();
      }
    }
    if (offset === end) return;
    if (whole) throw new Error('h2 codec: sendNow past the windows');
    this.queue = [chunk];
    this.queueOffset = offset;
    this.queuedBytes += end - offset;
  }

  private enqueue(chunk: Buffer): void {
    (this.queue ??= []).push(chunk);
    this.queuedBytes += chunk.length;
  }

  /** Sends what the windows allow; then END_STREAM when it was asked for; then drain when owed. */
  pump(): void {
    const conn = this.conn;
    const queue = this.queue;
    if (queue !== null) {
      while (queue.length > 0) {
        const window = Math.min(conn.sendWindow, this.sendWindow);
        if (window <= 0) {
          if (conn.sendWindow <= 0) conn.block(this);
          break;
        }
        const chunk = queue[0];
        const left = chunk.length - this.queueOffset;
        const n = Math.min(window, conn.peerMaxFrame, left);
        const last = n === left && queue.length === 1;
        const endHere = last && this.endQueued && this.trailersQueued === null;
        conn.writeData(this.id, chunk, this.queueOffset, this.queueOffset + n, endHere);
        conn.sendWindow -= n;
        this.sendWindow -= n;
        this.queuedBytes -= n;
        if (n === left) {
          queue.shift();
          this.queueOffset = 0;
        } else this.queueOffset += n;
        if (endHere) {
          this.queue = null;
          this.endQueued = false;
          return this.localEnd();
        }
      }
      if (queue.length > 0) return;
      this.queue = null;
    }
    if (this.endQueued) {
      this.endQueued = false;
      if (this.trailersQueued !== null) this.conn.writeHeaders(this.id, 0, this.trailersQueued, true);
      else if (!this.conn.endOnHeaders(this.id)) this.conn.writeData(this.id, Buffer.alloc(0), 0, 0, true);
      this.trailersQueued = null;
      return this.localEnd();
    }
    if (this.needDrain && !this.conn.congested(this)) {
      this.needDrain = false;
      this.handle?.drain();
    }
  }

  /**
   * END_STREAM went out: the stream closes, or, with the request still coming, is reset with NO_ERROR
   * (RFC 9113 §8.1). A short rest of known length is read to its end and dropped instead (its window given
   * back): clients such as curl before 8.x take a reset during their upload as a failed request, so a
   * filter's 401 to a small POST would otherwise often arrive as an error. The stream then closes on the
   * request's END_STREAM; a client that never sends it holds one stream slot until the connection's idle
   * timeout, as any open stream does.
   */
  private localEnd(): void {
    this.ended = true;
    if (!this.remoteClosed) {
      const rest = this.expectedLength >= 0 ? this.expectedLength - this.received : -1;
      if (rest >= 0 && rest <= DRAIN_REST && this.queue === null) {
        this.paused = false;
        this.held = null;
        this.handle = null;
        return;
      }
      this.conn.writeRst(this.id, E_NO_ERROR);
      this.remoteClosed = true;
    }
    this.close(false);
  }

  end(trailers?: string[]): void {
    this.done = true;
    if (this.closed) return;
    if (!this.headersSent) {
      this.headersSent = this.ended = true;
      this.conn.writeHeaders(this.id, 502, ['date', this.conn.date.value()], true);
      this.localEnd();
      return;
    }
    if (this.ended && !this.endQueued) return;
    if (trailers !== undefined && trailers.length > 0 && this.waitsForTrailers) {
      const out = appendResponseFields([], trailers);
      if (out.length > 0) this.trailersQueued = out;
    }
    this.ended = this.endQueued = true;
    this.pump();
  }

  fail(error: EdgeError): void {
    this.done = true;
    if (this.closed) return;
    if (this.headersSent) return this.reset(E_INTERNAL_ERROR);
    if (this.grpc) {
      // trailers-only (PROTOCOL-HTTP2): a gRPC client reads the status instead of an HTML page
      this.headersSent = this.ended = true;
      this.conn.writeHeaders(this.id, 200, ['content-type', 'application/grpc', 'grpc-status', String(grpcCodeForHttp(error.status)), 'grpc-message', encodeGrpcMessage(error.message)], true);
      return this.localEnd();
    }
    this.answer(error.status, TEXT_PLAIN, `${error.message}\n`);
  }

  /** A response made here (errors, 431, 405): plain text with its length, the stream ends with it. */
  answer(status: number, contentType: string, text: string): void {
    if (this.closed || this.headersSent) return;
    const body = Buffer.from(text, 'utf8');
    const fields = appendResponseFields([], ['date', this.conn.date.value(), 'content-type', contentType, 'content-length', String(body.length)], this.extra);
    this.headersSent = this.done = true;
    this.conn.writeHeaders(this.id, status, fields, false);
    if (body.length > 0) this.enqueue(body);
    this.ended = this.endQueued = true;
    this.pump();
  }

  pauseBody(): void {
    this.paused = true;
  }

  resumeBody(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    this.held = null;
    if (held !== null) {
      for (const chunk of held) {
        if (this.closed) return;
        this.handle?.bodyData(chunk);
        this.grant(chunk.length);
        if (this.paused) {
          // paused again mid-way: keep the rest
          const rest = held.slice(held.indexOf(chunk) + 1);
          if (rest.length > 0) this.held = rest;
          return;
        }
      }
    }
    if (this.heldEnd && !this.closed) {
      this.heldEnd = false;
      this.handle?.bodyEnd();
      if (this.ended && this.queue === null) this.close(false);
    }
  }
}
