// HttpConnection: one downstream HTTP/1.1 connection. Reads arrive through `onread` in the listener's
// shared buffer; a complete head is copied out and parsed, bytes that must outlive the read (a partial
// head, the next pipelined request) are kept in `pending`. Requests are handled strictly one at a time:
// the next pipelined head is parsed only when the current exchange is done, so responses stay in order.
import type net from 'node:net';
import type { HttpListenerImpl } from './listener.ts';
import type { ListenerRuntime } from './runtime.ts';
import { RequestHead, parseRequestHead } from './parse/request-head.ts';
import { ChunkedDecoder } from './parse/chunked.ts';
import { normalizeHeadPath } from './parse/path.ts';
import { findHeadEnd, CR, LF } from './parse/chars.ts';
import { ProxyExchange } from './exchange.ts';
import { errorResponse } from './local-response.ts';
import { normalizePeer } from './forwarded.ts';
import { ChunkWriter } from './chunk-writer.ts';
import { FILTER_TIMES } from './filters/index.ts';
import { P_RESPONDING } from './phases.ts';
import { Attempts } from './attempts.ts';
import { UpstreamResponse } from './upstream-response.ts';

/** Bytes of pipelined requests buffered while a response is in progress, before reading pauses. */
const PIPELINE_BUFFER = 64 * 1024;
const EMPTY = Buffer.alloc(0);

export class HttpConnection {
  readonly listener: HttpListenerImpl;
  socket!: net.Socket;
  private writer!: ChunkWriter;
  rt: ListenerRuntime;
  readonly peer: string;
  readonly localPort: number;
  private trustedFor: ListenerRuntime | null = null;
  private trusted = false;
  readonly head = new RequestHead();
  readonly reqChunked = new ChunkedDecoder();
  readonly resChunked = new ChunkedDecoder();
  /** The attempt core of the request in progress: one per connection, reset by each exchange (like `head`). */
  readonly attempts = new Attempts();
  /** The upstream response's reading state, lent to each request in turn (as attempts). */
  readonly response = new UpstreamResponse();
  exchange: ProxyExchange | null = null;
  private pending: Buffer | null = null;
  private pStart = 0;
  private pEnd = 0;
  private scanFrom = 0;
  private parsing = false;
  requests = 0;
  private tunnel = false;
  private readEnded = false;
  closed = false;
  draining = false;
  private paused = false;
  deadline = 0;
  /** Start of the current request: its first byte, or accept for the first one. */
  private tStart: number;
  /** When the first byte of the current request arrived (tStart is the accept time for a first request). */
  private tArrived = 0;
  private requestStarted = false;
  /** A TLS connection (https listener): its accept and handshake end, for its first request's waterfall; 0 otherwise. */
  tAccepted = 0;
  tTls = 0;
  /** The filter phase times of the current request (one request at a time: reused, grown to the longest chain). */
  private filterTimes: Float64Array | null = null;

  constructor(listener: HttpListenerImpl, rt: ListenerRuntime, remoteAddress: string | undefined, localPort: number, now: number) {
    this.listener = listener;
    this.rt = rt;
    this.peer = normalizePeer(remoteAddress);
    this.localPort = localPort;
    this.tStart = now;
    this.deadline = now + rt.headerTimeout;
  }

  /** The current request's filterTimes for a chain of `filters`, zeroed (chain.ts layout). */
  filterTimesFor(filters: number): Float64Array {
    const size = filters * FILTER_TIMES;
    let times = this.filterTimes;
    if (times === null || times.length < size) times = this.filterTimes = new Float64Array(Math.max(size, 4 * FILTER_TIMES));
    times.fill(0, 0, size);
    return times;
  }

  attach(socket: net.Socket): void {
    this.socket = socket;
    this.writer = new ChunkWriter(socket, this.listener.chunks);
    socket.on('end', () => this.guarded(this.onEnd));
    socket.on('close', () => this.guarded(this.onClose));
    socket.on('error', () => this.guarded(this.destroy));
    socket.on('drain', () => this.guarded(this.onDrain));
  }

  private onDrain(): void {
    this.exchange?.downstreamDrain();
  }

  /** Phase boundary for socket events: a bug drops this connection, never the worker. */
  private guarded(method: (this: HttpConnection) => void): void {
    try {
      method.call(this);
    } catch (err) {
      this.listener.internalError(this, err);
    }
  }

  /** Whether the TCP peer is a trusted proxy under `rt` (cached per runtime: reloads may change it). */
  peerTrusted(rt: ListenerRuntime): boolean {
    if (this.trustedFor !== rt) {
      this.trustedFor = rt;
      this.trusted = rt.trusted.contains(this.peer);
    }
    return this.trusted;
  }

  /** The onread callback: buf[0, nread) is valid only during this call. */
  onRead(nread: number, buf: Buffer): void {
    if (this.closed) return;
    const exchange = this.exchange;
    if (exchange !== null) {
      if (this.tunnel) {
        exchange.tunnelData(buf, 0, nread);
        return;
      }
      if (!exchange.reqDone) {
        const used = exchange.requestBody(buf, 0, nread);
        if (used < 0 || this.closed) return;
        if (used < nread) this.keep(buf, used, nread);
        return;
      }
      this.keep(buf, 0, nread);
      if (this.pEnd - this.pStart > PIPELINE_BUFFER) this.pauseReading();
      return;
    }
    if (this.pending === null) this.process(buf, 0, nread, false);
    else {
      this.keep(buf, 0, nread);
      this.process(this.pending, this.pStart, this.pEnd, true);
    }
  }

  /** Parses and starts requests from buf[s, e) while no exchange is active. */
  private process(buf: Buffer, s: number, e: number, isPending: boolean): void {
    this.parsing = true;
    while (s < e && this.exchange === null && !this.closed) {
      // one clock read serves the request's start, its header deadline and (same read) its head time
      let now = -1;
      if (!this.requestStarted) {
        while (s < e && (buf[s] === CR || buf[s] === LF)) s++; // empty lines between requests (RFC 9112 2.2)
        if (s === e) break;
        this.requestStarted = true;
        // a request takes the listener's current runtime (a reload may have happened while this
        // connection was idle); the exchange keeps it until it ends
        this.rt = this.listener.runtime;
        now = this.listener.now();
        if (this.requests > 0) this.tStart = now;
        this.tArrived = now;
        this.deadline = now + this.rt.headerTimeout;
        this.scanFrom = s;
      }
      const headEnd = findHeadEnd(buf, s, isPending ? this.scanFrom : s, e);
      if (headEnd === -2) return this.reject(400);
      if (headEnd === -1) {
        if (e - s > this.rt.maxHeaderSize) return this.reject(this.oversizeStatus(buf, s, e));
        this.scanFrom = e; // every LF before e was checked: resume there (slow clients cost O(n))
        break;
      }
      if (headEnd - s > this.rt.maxHeaderSize) return this.reject(this.oversizeStatus(buf, s, headEnd));
      const raw = Buffer.allocUnsafe(headEnd - s);
      buf.copy(raw, 0, s, headEnd);
      this.rt = this.listener.runtime; // a reload while the head was arriving: the head is routed by the new one
      const status = parseRequestHead(raw, raw.length, this.head, this.rt.requestIdName);
      if (status !== 0) return this.reject(status);
      if (!normalizeHeadPath(this.head)) return this.reject(400);
      this.requests++;
      this.requestStarted = false;
      if (now < 0) now = this.listener.now();
      const exchange = new ProxyExchange(this, this.rt, this.head, this.tStart, this.tArrived, now);
      this.exchange = exchange;
      this.listener.inflight++;
      const used = exchange.start(buf, headEnd, e);
      if (used < 0 || this.closed) {
        this.parsing = false;
        return;
      }
      s = used;
      this.scanFrom = s;
    }
    this.parsing = false;
    if (this.closed) return;
    // keep what is left for later
    if (s >= e) {
      this.pending = null;
      this.pStart = this.pEnd = 0;
    } else if (isPending) {
      this.pStart = s;
    } else {
      const scanned = this.scanFrom - s;
      this.pending = null;
      this.keep(buf, s, e);
      this.scanFrom = scanned > 0 ? scanned : 0;
    }
  }

  /** Appends buf[s, e) to the pending bytes (copying: the read buffer is reused). */
  private keep(buf: Buffer, s: number, e: number): void {
    const n = e - s;
    if (this.pending === null) {
      this.pending = Buffer.allocUnsafe(Math.max(n, 1024));
      buf.copy(this.pending, 0, s, e);
      this.pStart = 0;
      this.pEnd = n;
      this.scanFrom = 0;
      return;
    }
    if (this.pEnd + n > this.pending.length) {
      const live = this.pEnd - this.pStart;
      const grown = Buffer.allocUnsafe(Math.max((live + n) * 2, 1024));
      this.pending.copy(grown, 0, this.pStart, this.pEnd);
      this.scanFrom -= this.pStart;
      if (this.scanFrom < 0) this.scanFrom = 0;
      this.pending = grown;
      this.pStart = 0;
      this.pEnd = live;
    }
    buf.copy(this.pending, this.pEnd, s, e);
    this.pEnd += n;
  }

  /**
   * The status for a head over limits.max_header_size in buf[s, e): 414 when the request line alone is over
   * it (RFC 9112 3: a request-target longer than the server parses MUST get 414), else 431.
   */
  private oversizeStatus(buf: Buffer, s: number, e: number): number {
    const lineEnd = buf.indexOf(LF, s);
    return lineEnd < 0 || lineEnd >= e || lineEnd - s > this.rt.maxHeaderSize ? 414 : 431;
  }

  /** A bad request: answer with Connection: close and close; nothing went upstream. */
  private reject(status: number): void {
    this.parsing = false;
    this.write(errorResponse(status, this.rt.date.line(), this.rt.closeLines));
    this.listener.rejected++;
    const now = this.listener.now();
    this.listener.requestDone('', '', status, now - this.tStart);
    this.listener.logRefused(this.peer, status, this.tStart, now);
    this.close();
  }

  exchangeDone(exchange: ProxyExchange, close: boolean, now: number): void {
    if (this.exchange !== exchange) return;
    this.exchange = null;
    this.listener.inflight--;
    if (close || this.closed) {
      this.close();
      return;
    }
    this.rt = this.listener.runtime;
    this.deadline = now + this.rt.idleTimeout;
    if (this.readEnded && (this.pending === null || this.pEnd === this.pStart)) {
      this.close();
      return;
    }
    if (this.paused) this.resumeReading();
    if (!this.parsing && this.pending !== null) this.process(this.pending, this.pStart, this.pEnd, true);
  }

  /**
   * An exchange that waited before consuming anything after its head (an async request filter) goes on:
   * `proceed` gets the bytes kept since (its body's first bytes, a pipelined request) exactly as start()
   * would have, and returns how many were its body (-1 when the connection closed). Reading resumes
   * first: the exchange pauses it again if it must (connecting, backpressure).
   */
  resumeExchange(exchange: ProxyExchange, proceed: (buf: Buffer, s: number, e: number) => number): void {
    if (this.exchange !== exchange || this.closed) return;
    this.resumeReading();
    const kept = this.pending;
    const s = kept === null ? 0 : this.pStart;
    const e = kept === null ? 0 : this.pEnd;
    this.parsing = true;
    const used = proceed(kept ?? EMPTY, s, e);
    this.parsing = false;
    if (used < 0 || this.closed) return;
    if (this.pending === kept && kept !== null) {
      if (used >= e) {
        this.pending = null;
        this.pStart = this.pEnd = 0;
      } else this.pStart = used;
      this.scanFrom = this.pStart;
    }
    // the exchange may have ended at once (a filter's answer): the next pipelined request starts now
    if (this.exchange === null && this.pending !== null) this.process(this.pending, this.pStart, this.pEnd, true);
  }

  /** The bytes kept after the current exchange's head (read ahead for its request filters). */
  heldBytes(): { buf: Buffer; s: number; e: number } {
    return this.pending === null ? { buf: EMPTY, s: 0, e: 0 } : { buf: this.pending, s: this.pStart, e: this.pEnd };
  }

  /** Keeps buf[s, e) after what is held (the exchange reads ahead without consuming). */
  holdBytes(buf: Buffer, s: number, e: number): void {
    this.keep(buf, s, e);
  }

  /** Whether the response being written must carry Connection: close. */
  mustCloseAfter(): boolean {
    return this.readEnded || this.draining || this.requests >= this.rt.maxRequestsPerConnection;
  }

  startTunnel(): void {
    this.tunnel = true;
    this.resumeReading();
    if (this.pending !== null && this.pEnd > this.pStart) {
      const pending = this.pending;
      const s = this.pStart;
      const e = this.pEnd;
      this.pending = null;
      this.pStart = this.pEnd = 0;
      this.exchange!.tunnelData(pending, s, e);
    }
    if (this.readEnded) this.exchange!.downstreamEnd();
  }

  write(buf: Buffer): boolean {
    if (this.closed) return true;
    return this.socket.write(buf);
  }

  /** Writes a copy of buf[s, e) (body bytes from a shared read buffer). */
  writeRange(buf: Buffer, s: number, e: number): boolean {
    if (this.closed) return true;
    return this.writer.write(buf, s, e);
  }

  setDeadline(ms: number): void {
    this.deadline = this.listener.now() + ms;
  }

  pauseReading(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    this.socket.resume();
  }

  /** After the request is fully sent: keep reading (EOF, pipelined requests) while the buffer allows. */
  resumeReadingForPipeline(): void {
    if (this.pEnd - this.pStart <= PIPELINE_BUFFER) this.resumeReading();
  }

  /** Half-close our side (tunnel: the upstream sent EOF). */
  endWrite(): void {
    if (!this.closed) this.socket.end();
  }

  /** Called by the listener's sweep when `deadline` passed. */
  timedOut(): void {
    if (this.closed) {
      this.destroy();
      return;
    }
    if (this.exchange !== null) {
      this.exchange.timedOut();
      return;
    }
    if (this.requestStarted) {
      // slowloris or a stalled client: the header timeout ends it
      this.write(errorResponse(408, this.rt.date.line(), this.rt.closeLines));
      this.listener.requestDone('', '', 408, this.listener.now() - this.tStart);
      this.close();
      return;
    }
    this.destroy();
  }

  private onEnd(): void {
    this.readEnded = true;
    const exchange = this.exchange;
    if (exchange !== null) {
      if (this.tunnel) exchange.downstreamEnd();
      // the body was cut short: nothing sensible to forward. A FIN after a whole request while its answer
      // is awaited is the client leaving, as nginx takes it (499, the upstream request cancelled): browsers
      // and HTTP/1.1 libraries never half-close, and waiting keeps a backend busy for nobody. Once the
      // answer has begun it is still sent: the client may be reading it.
      else if (!exchange.reqDone || exchange.phase < P_RESPONDING) this.close();
      return;
    }
    this.close();
  }

  /** Graceful close: flush what was written, then FIN. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deadline = 0;
    const exchange = this.exchange;
    this.exchange = null;
    if (exchange !== null) {
      this.listener.inflight--;
      exchange.abort();
    }
    this.socket.end();
    // a client that never reads could hold the socket: the sweep destroys closed sockets after idle
    this.deadline = this.listener.now() + 5000;
  }

  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
    this.onClose();
  }

  private onClose(): void {
    if (!this.closed) {
      this.closed = true;
      const exchange = this.exchange;
      this.exchange = null;
      if (exchange !== null) {
        this.listener.inflight--;
        exchange.abort();
      }
    }
    this.deadline = 0;
    this.listener.forget(this);
  }

  /** Draining (SIGTERM / reload): close now when idle, else after the current response. */
  startDrain(): void {
    this.draining = true;
    if (this.exchange === null && !this.requestStarted) this.close();
  }
}
