// ProxyExchange: one HTTP/1.1 request's life on a downstream connection — route, pick upstream, connect,
// send the rewritten head (with the first body bytes), stream the body both ways with backpressure,
// relay the response, then hand the connection back (keep-alive, pipelining) or tunnel after a 101.
// Methods are on the prototype (no per-request closures); the upstream socket calls back through
// UpstreamOwner.
import type { Readable } from 'node:stream';
import type { Lease, LeaseOutcome, BalanceInput } from '../pool/types.ts';
import type { UpstreamPool } from './types.ts';
import type { ListenerRuntime } from './runtime.ts';
import type { CompiledRoute } from './router/router.ts';
import type { ProxyAction } from './router/actions.ts';
import type { UpstreamConnection, UpstreamOwner } from './upstream/connector.ts';
import type { HttpConnection } from './connection.ts';
import type { RequestHead } from './parse/request-head.ts';
import type { ChunkSink } from './parse/chunked.ts';
import { BODY_NONE, BODY_LENGTH, BODY_CHUNKED } from './parse/request-head.ts';
import { BODY_UNTIL_CLOSE } from './parse/response-head.ts';
import { redirectLocation } from './router/actions.ts';
import { errorResponse, redirectResponse, fixedResponse } from './local-response.ts';
import { writeAccessLog } from './access-log.ts';
import { relayResponseHead, relayResponseBody } from './response-relay.ts';
import { upstreamRequestHead, clientBehindProxies, requestIdFor } from './upstream-head.ts';
import { serveStatic } from './static-route.ts';
import { P_ROUTING, P_CONNECTING, P_WAITING, P_RESPONDING, P_TUNNEL, P_DONE, copyOf } from './phases.ts';



export class ProxyExchange implements UpstreamOwner, BalanceInput, ChunkSink {
  readonly conn: HttpConnection;
  readonly rt: ListenerRuntime;
  readonly head: RequestHead;
  phase = P_ROUTING;
  route: CompiledRoute | null = null;
  action: ProxyAction | null = null;
  pool: UpstreamPool | null = null;
  lease: Lease | null = null;
  tried: Set<string> | null = null;
  upstream: UpstreamConnection | null = null;
  clientAddress: string;
  requestId = '';
  status = 0;
  /** Request body framing and progress. */
  reqDone: boolean;
  private reqRemaining: number;
  private stash: Buffer[] | null = null;
  private headSent = false;
  /** Response parsing and relaying. */
  resAcc: Buffer | null = null;
  resAccLen = 0;
  resKind = BODY_NONE;
  resRemaining = 0;
  resDone = false;
  dechunk = false;
  upstreamReusable = false;
  continueSent = false;
  closeAfter = false;
  bytesIn = 0;
  bytesOut = 0;
  readonly tStart: number;
  readonly tHead: number;
  tConnected = 0;
  tFirstByte = 0;
  private outcome: LeaseOutcome = 'success';
  private reusedUpstream = false;
  /** A static file being streamed (static-route.ts), destroyed if the client leaves. */
  staticStream: Readable | null = null;
  private staleRetries = 0;
  private attempts = 0;
  private upstreamEnded = false;
  private downstreamEnded = false;

  constructor(conn: HttpConnection, rt: ListenerRuntime, head: RequestHead, tStart: number, now: number) {
    this.conn = conn;
    this.rt = rt;
    this.head = head;
    this.tStart = tStart;
    this.tHead = now;
    this.clientAddress = conn.peer;
    this.bytesIn = head.raw.length;
    this.reqDone = head.bodyKind === BODY_NONE;
    this.reqRemaining = head.contentLength;
    if (head.bodyKind === BODY_CHUNKED) conn.reqChunked.reset();
  }

  // BalanceInput: a view of the request for balancers (allocates only when a policy asks)
  get path(): string {
    return this.head.path;
  }
  header(name: string): string | undefined {
    return this.head.header(name.toLowerCase());
  }
  cookie(name: string): string | undefined {
    return this.head.cookie(name);
  }


  /**
   * Routes and starts the exchange; buf[bs, be) holds bytes read after the head (body, or the next
   * pipelined request). Returns how many of them belong to this request's body, or -1 when the
   * connection was closed.
   */
  start(buf: Buffer, bs: number, be: number): number {
    const head = this.head;
    const rt = this.rt;
    if (head.bodyKind === BODY_LENGTH && head.contentLength > rt.maxBodySize) return this.localError(413, bs, true);
    const route = rt.router.match(head.method, head.hostname, head.path, head);
    this.route = route;
    if (route === null) return this.localError(404, bs, false);
    const action = route.action;
    if (action.kind === 'redirect') {
      const location = redirectLocation(action, rt.scheme, head.hostname, head.authority, head.target);
      this.closeAfter ||= head.bodyKind !== BODY_NONE;
      return this.local(action.status, redirectResponse(action.status, location, this.willClose(), this.keepAliveHeader(), head.method === 'HEAD'), bs);
    }
    if (action.kind === 'respond') {
      this.closeAfter ||= head.bodyKind !== BODY_NONE;
      return this.local(action.status, fixedResponse(action.head, action.body, this.willClose(), this.keepAliveHeader(), head.method === 'HEAD'), bs);
    }
    if (action.kind === 'static') {
      // files answer GET and HEAD; a body the responder will not read means the connection closes after
      if (!this.reqDone) this.closeAfter = true;
      this.reqDone = true;
      this.phase = P_WAITING;
      serveStatic(this, action);
      return bs;
    }
    this.action = action;
    const pool = rt.pools.get(action.pool);
    if (pool === undefined) return this.localError(503, bs, false);
    this.pool = pool;
    if (this.conn.peerTrusted(rt)) this.clientAddress = clientBehindProxies(this);
    if (rt.requestIdName !== '') this.requestId = requestIdFor(this);
    if (!this.pickUpstream()) return -1;
    return this.acceptBody(buf, bs, be);
  }

  /**
   * "pick upstream": lease a backend and get a connection; re-entered after a connect error with the
   * failed backends in `tried` (then running out of backends is that connect error: 502, not 503).
   */
  private pickUpstream(): boolean {
    const lease = this.pool!.pick(this, this.tried ?? undefined);
    if (lease === undefined) {
      if (this.tried !== null) this.fail(502, 'connect_error');
      else this.fail(503, 'cancelled');
      return false;
    }
    this.lease = lease;
    this.attempts++;
    const backend = lease.backend;
    const upstream = this.conn.listener.connector.acquire(backend.id, backend.host, backend.port, this.rt.settingsFor(this.pool!), this);
    if (upstream === null) {
      lease.release('cancelled');
      this.lease = null;
      this.fail(503, 'cancelled');
      return false;
    }
    this.upstream = upstream;
    this.reusedUpstream = upstream.uses > 1;
    if (upstream.connected) {
      // a reused connection is ready at once (on a re-pick, time has passed since the head)
      this.tConnected = this.attempts > 1 ? this.conn.listener.now() : this.tHead;
      this.phase = P_WAITING;
      return true;
    }
    this.phase = P_CONNECTING;
    this.conn.setDeadline(this.rt.connectTimeout);
    this.conn.pauseReading();
    return true;
  }

  /** First body bytes, right after the head: sent with the head when the upstream is ready. */
  private acceptBody(buf: Buffer, bs: number, be: number): number {
    let end = bs;
    if (!this.reqDone) {
      end = this.frameBody(buf, bs, be);
      if (end < 0) return -1;
    }
    if (this.phase === P_WAITING) {
      this.sendHead(buf, bs, end, this.tHead);
    } else if (end > bs) {
      (this.stash ??= []).push(copyOf(buf, bs, end));
    }
    return end;
  }

  /** Finds where the body ends inside buf[s, e) and checks limits; -1 (after answering) when invalid. */
  private frameBody(buf: Buffer, s: number, e: number): number {
    let end: number;
    if (this.head.bodyKind === BODY_LENGTH) {
      const take = e - s < this.reqRemaining ? e - s : this.reqRemaining;
      this.reqRemaining -= take;
      end = s + take;
      if (this.reqRemaining === 0) this.reqDone = true;
    } else {
      const decoder = this.conn.reqChunked;
      end = decoder.decode(buf, s, e, null);
      if (end < 0) {
        this.abortRequest(400);
        return -1;
      }
      if (decoder.payload > this.rt.maxBodySize) {
        this.abortRequest(413);
        return -1;
      }
      if (decoder.done) this.reqDone = true;
    }
    this.bytesIn += end - s;
    return end;
  }

  /** Later request body bytes from the downstream connection. Same contract as start(). */
  requestBody(buf: Buffer, s: number, e: number): number {
    const end = this.frameBody(buf, s, e);
    if (end < 0) return -1;
    if (end > s) {
      if (this.headSent) {
        if (!this.upstream!.writer.write(buf, s, end)) this.conn.pauseReading();
      } else {
        (this.stash ??= []).push(copyOf(buf, s, end));
      }
    }
    // while connecting, the connect deadline stands; once sent, body progress (then the response) counts
    if (this.phase === P_WAITING) this.conn.setDeadline(this.reqDone ? this.responseTimeout() : this.rt.bodyTimeout);
    if (this.reqDone && this.resDone) this.finish();
    return end;
  }

  private responseTimeout(): number {
    const override = this.action?.responseTimeout ?? -1;
    return override >= 0 ? override : this.rt.responseTimeout;
  }

  /** `now`: a clock reading taken in this same tick (for the next deadline). */
  private sendHead(buf: Buffer | null, bs: number, be: number, now: number): void {
    const rt = this.rt;
    const out = upstreamRequestHead(this, buf, bs, be);
    this.headSent = true;
    const socket = this.upstream!.socket;
    let ok = socket.write(out);
    if (this.stash !== null) {
      for (const chunk of this.stash) ok = socket.write(chunk);
      this.stash = null;
    }
    if (!ok) this.conn.pauseReading();
    this.conn.deadline = now + (this.reqDone ? this.responseTimeout() : rt.bodyTimeout);
  }

  // ---- UpstreamOwner ----

  upstreamConnected(_conn: UpstreamConnection): void {
    if (this.phase !== P_CONNECTING) return;
    this.tConnected = this.conn.listener.now();
    this.phase = P_WAITING;
    this.upstreamConnectedNow();
  }

  private upstreamConnectedNow(): void {
    this.sendHead(null, 0, 0, this.tConnected);
    if (!this.reqDone) this.conn.resumeReading();
    else this.conn.resumeReadingForPipeline();
  }

  upstreamDrain(): void {
    if (this.phase === P_TUNNEL || !this.reqDone) this.conn.resumeReading();
  }

  upstreamData(buf: Buffer, s: number, e: number): void {
    if (this.tFirstByte === 0) this.tFirstByte = this.conn.listener.now();
    if (this.phase === P_TUNNEL) {
      this.bytesOut += e - s;
      if (!this.conn.writeRange(buf, s, e)) this.upstream!.socket.pause();
      this.conn.setDeadline(this.rt.tunnelIdleTimeout);
      return;
    }
    if (this.phase === P_RESPONDING) {
      relayResponseBody(this, buf, s, e);
      return;
    }
    if (this.phase !== P_WAITING) {
      this.upstream?.destroy();
      return;
    }
    relayResponseHead(this, buf, s, e);
  }

  /** ChunkSink: decoded payload for an HTTP/1.0 client. */
  chunkData(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.bytesOut += end - start;
    if (!this.conn.writeRange(buf, start, end)) this.upstream?.socket.pause();
  }

  responseComplete(): void {
    this.resDone = true;
    if (!this.reqDone) {
      // answered before the body was all sent: the body's end is unknown to both sides now
      this.upstreamReusable = false;
      this.closeAfter = true;
    }
    this.finish();
  }

  downstreamDrain(): void {
    if (this.staticStream !== null) this.staticStream.resume();
    if (this.upstream !== null && this.upstream.socket.isPaused()) this.upstream.socket.resume();
  }

  upstreamEnd(): void {
    this.upstreamEnded = true;
    if (this.phase === P_TUNNEL) {
      this.conn.endWrite();
      if (this.downstreamEnded) this.finish();
      return;
    }
    if (this.phase === P_RESPONDING && this.resKind === BODY_UNTIL_CLOSE) {
      this.upstreamReusable = false;
      this.responseComplete();
      return;
    }
    this.upstreamReusable = false;
    if (this.retryStale()) return;
    if (this.phase === P_WAITING || this.phase === P_RESPONDING) this.upstreamFailed(502, 'reset');
  }

  /**
   * A reused keep-alive socket that the upstream closed just as we sent on it (the race with its idle
   * timeout): no response byte came, so a request without a body is sent again on another connection to
   * the same backend, at most twice. Returns false when that does not apply.
   */
  private retryStale(): boolean {
    if (this.phase !== P_WAITING || this.tFirstByte !== 0 || !this.reusedUpstream || this.head.bodyKind !== BODY_NONE || this.staleRetries >= 2 || this.lease === null) return false;
    this.staleRetries++;
    const old = this.upstream;
    this.upstream = null;
    old?.destroy();
    const backend = this.lease.backend;
    const upstream = this.conn.listener.connector.acquire(backend.id, backend.host, backend.port, this.rt.settingsFor(this.pool!), this);
    if (upstream === null) return false;
    this.upstream = upstream;
    this.reusedUpstream = upstream.uses > 1;
    this.headSent = false;
    if (upstream.connected) {
      this.sendHead(null, 0, 0, this.conn.listener.now());
    } else {
      this.phase = P_CONNECTING;
      this.conn.setDeadline(this.rt.connectTimeout);
    }
    return true;
  }

  upstreamClosed(_error: Error | undefined, connected: boolean): void {
    this.upstream = null;
    if (this.phase === P_DONE) return;
    if (this.phase === P_TUNNEL) {
      this.finish();
      this.conn.destroy();
      return;
    }
    if (!connected && this.phase === P_CONNECTING) {
      if (this.lease !== null) {
        (this.tried ??= new Set()).add(this.lease.backend.id);
        this.lease.release('connect_error');
        this.lease = null;
      }
      if (this.attempts < (this.rt.settingsFor(this.pool!).connectAttempts ?? 1) && !this.headSent) {
        // re-enter "pick upstream" with the tried set; the stash keeps the body read so far
        if (this.pickUpstream() && (this.phase as number) === P_WAITING) this.upstreamConnectedNow();
        return;
      }
      this.outcome = 'connect_error';
      this.fail(502, 'connect_error');
      return;
    }
    if (this.retryStale()) return;
    if (this.phase === P_RESPONDING && this.resKind === BODY_UNTIL_CLOSE && this.upstreamEnded) {
      this.responseComplete();
      return;
    }
    this.upstreamFailed(502, 'reset');
  }

  /** Downstream bytes after a 101. */
  tunnelData(buf: Buffer, s: number, e: number): void {
    this.bytesIn += e - s;
    if (this.upstream === null) return;
    if (!this.upstream.writer.write(buf, s, e)) this.conn.pauseReading();
    this.conn.setDeadline(this.rt.tunnelIdleTimeout);
  }

  /** The downstream sent EOF. */
  downstreamEnd(): void {
    this.downstreamEnded = true;
    if (this.phase === P_TUNNEL) {
      this.upstream?.socket.end();
      if (this.upstreamEnded) this.finish();
    }
  }

  // ---- endings ----

  /** Deadline passed (the connection's sweep calls this). */
  timedOut(): void {
    switch (this.phase) {
      case P_CONNECTING:
        this.outcome = 'timeout';
        this.upstreamFailed(504, 'timeout');
        return;
      case P_WAITING:
        if (!this.reqDone && this.headSent) {
          // the client stopped sending its body
          this.outcome = 'cancelled';
          this.abortRequest(408);
          return;
        }
        this.upstreamFailed(504, 'timeout');
        return;
      default:
        this.outcome = this.phase === P_TUNNEL ? 'success' : 'timeout';
        this.finish();
        this.conn.destroy();
    }
  }

  /**
   * The upstream failed (or the request body was bad): answer `status` when nothing was sent downstream
   * yet, else cut the connection (the client sees a truncated response). The upstream socket is dropped.
   */
  upstreamFailed(status: number, outcome: LeaseOutcome): void {
    this.outcome = outcome;
    const upstream = this.upstream;
    this.upstream = null;
    upstream?.destroy();
    if (this.phase === P_RESPONDING) {
      this.finish();
      this.conn.destroy();
      return;
    }
    this.fail(status, outcome);
  }

  private abortRequest(status: number): void {
    this.upstreamFailed(status, this.outcome === 'success' ? 'cancelled' : this.outcome);
  }

  /** Local error response, then close (nothing of the response was sent yet). */
  private fail(status: number, outcome: LeaseOutcome): void {
    this.outcome = outcome;
    const upstream = this.upstream;
    this.upstream = null;
    upstream?.destroy();
    this.status = status;
    this.closeAfter = true;
    const out = errorResponse(status, true, this.head.method === 'HEAD');
    this.bytesOut += out.length;
    this.conn.write(out);
    this.resDone = true;
    this.reqDone = true;
    this.finish();
  }

  private localError(status: number, bs: number, close: boolean): number {
    if (close || !this.reqDone) this.closeAfter = true;
    const out = errorResponse(status, this.willClose(), this.head.method === 'HEAD');
    return this.local(status, out, bs);
  }

  /**
   * A response produced here. The request body (if any) is not read: the connection closes after, so
   * the bytes after the head are left unconsumed (returns bs).
   */
  private local(status: number, out: Buffer, bs: number): number {
    this.status = status;
    this.bytesOut += out.length;
    this.conn.write(out);
    this.resDone = true;
    if (!this.reqDone) this.closeAfter = true;
    this.reqDone = true;
    this.finish();
    return bs;
  }

  /** Client went away or the connection is being torn down. */
  abort(): void {
    if (this.phase === P_DONE) return;
    if (this.staticStream !== null) {
      this.staticStream.destroy();
      this.staticStream = null;
    }
    if (this.outcome === 'success' && this.phase !== P_TUNNEL) this.outcome = 'cancelled';
    const upstream = this.upstream;
    this.upstream = null;
    upstream?.destroy();
    if (this.status === 0) this.status = 499;
    this.finish();
  }

  willClose(): boolean {
    return this.closeAfter || !this.head.keepAlive || this.conn.mustCloseAfter();
  }

  keepAliveHeader(): boolean {
    return this.head.minor === 0 && this.head.keepAlive;
  }

  finish(): void {
    if (this.phase === P_DONE) return;
    const wasTunnel = this.phase === P_TUNNEL;
    this.phase = P_DONE;
    if (this.staticStream !== null) {
      this.staticStream.destroy();
      this.staticStream = null;
    }
    const listener = this.conn.listener;
    const now = listener.now();
    const upstream = this.upstream;
    this.upstream = null;
    if (upstream !== null) {
      const reusable = this.upstreamReusable && this.reqDone && this.resDone && !wasTunnel && this.outcome === 'success';
      listener.connector.release(upstream, reusable, now);
    }
    if (this.lease !== null) {
      const outcome = this.outcome === 'success' && this.status >= 500 ? 'http_5xx' : this.outcome;
      this.lease.release(outcome);
    }
    if (this.rt.accessLog) writeAccessLog(listener.accessLog, this, now, listener.accessBatch);
    this.conn.exchangeDone(this, this.willClose() || wasTunnel, now);
  }
}

