// An exchange from another codec (an HTTP/1.1 request of the L7 core, HttpListenerDeps.foreignUpstream)
// proxied to an upstream HTTP/2 stream of a pool with protocol h2c, h2 or grpc, over the same multiplexed
// sessions as HTTP/2 clients' streams (H2UpstreamSessions). Backends that cannot be connected, or that
// refuse the stream before any work (REFUSED_STREAM) while no body byte went up, are retried on the next
// one (retries.attempts). Body bytes flow with backpressure both ways: a full upstream stream pauses the
// client's socket (downstream.pauseBody), a slow client pauses the upstream stream (sendData → false).
// The L7 core owns the timeouts: it calls abort() when it gives up.
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { EdgeError, messageOf } from '../../core/index.ts';
import type { Lease, LeaseOutcome } from '../../pool/index.ts';
import type { ExchangeDownstream, ExchangeHandle, ExchangeRequest, ForeignTarget, UpstreamPool } from '../../l7/index.ts';
import { forwardable } from '../headers.ts';
import type { H2UpstreamSessions } from './sessions.ts';
import { SessionPicker } from './session-pick.ts';

/** Request body bytes held while no upstream stream exists yet (connecting); more pauses the client. */
const HOLD_LIMIT = 256 * 1024;

function flatFields(headers: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || !forwardable(name, value) || name === 'te') continue;
    if (Array.isArray(value)) for (const item of value) out.push(name, item);
    else out.push(name, String(value));
  }
  return out;
}

export class H2ExchangeProxy implements ExchangeHandle {
  private readonly pool: UpstreamPool;
  private readonly sessions: H2UpstreamSessions;
  private readonly request: ExchangeRequest;
  private readonly downstream: ExchangeDownstream;
  private readonly target: ForeignTarget;
  private readonly picker: SessionPicker;
  private upstream: ClientHttp2Stream | undefined;
  private lease: Lease | undefined;
  private releaseSlot: (() => void) | undefined;
  /** Copies of the body bytes that arrived before the upstream stream existed. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private bodyEnded: boolean;
  private bodySent = 0;
  private paused = false;
  private trailers: string[] | undefined;
  private responded = false;
  private status = 0;
  private finished = false;

  constructor(pool: UpstreamPool, sessions: H2UpstreamSessions, request: ExchangeRequest, downstream: ExchangeDownstream, target: ForeignTarget, attempts: number) {
    this.pool = pool;
    this.sessions = sessions;
    this.request = request;
    this.downstream = downstream;
    this.target = target;
    this.picker = new SessionPicker(pool, sessions, target.balance, attempts);
    this.bodyEnded = request.contentLength === 0;
  }

  start(): void {
    void this.connect();
  }

  // ---- ExchangeHandle (from the L7 core) ----

  bodyData(chunk: Buffer): void {
    if (this.finished) return;
    const copy = Buffer.from(chunk);
    const upstream = this.upstream;
    if (upstream !== undefined && this.held.length === 0) {
      this.bodySent += copy.length;
      if (!upstream.write(copy)) this.pauseBody();
      return;
    }
    this.held.push(copy);
    this.heldBytes += copy.length;
    if (this.heldBytes >= HOLD_LIMIT) this.pauseBody();
  }

  bodyEnd(): void {
    this.bodyEnded = true;
    const upstream = this.upstream;
    if (upstream !== undefined && this.held.length === 0 && !upstream.writableEnded) upstream.end();
  }

  drain(): void {
    this.upstream?.resume();
  }

  abort(): void {
    if (this.finished) return;
    this.finished = true;
    const upstream = this.upstream;
    if (upstream !== undefined && !upstream.closed && !upstream.destroyed) upstream.close(constants.NGHTTP2_CANCEL);
    this.release('cancelled');
  }

  // ---- upstream ----

  private pauseBody(): void {
    if (this.paused) return;
    this.paused = true;
    this.downstream.pauseBody();
  }

  private resumeBody(): void {
    if (!this.paused) return;
    this.paused = false;
    this.downstream.resumeBody();
  }

  /** Pick → session → stream; a backend that cannot be reached is marked tried and the next one picked. */
  private async connect(): Promise<void> {
    // never answer inside the call that created this proxy: the caller sets up its state first
    await Promise.resolve();
    const result = await this.picker.next(() => this.finished);
    if ('abandoned' in result) return;
    if ('failed' in result) {
      const error = result.failed;
      this.fail(error instanceof EdgeError ? error.status : 503, error ? messageOf(error) : `pool ${this.pool.name}: no healthy backend`, 'connect_error');
      return;
    }
    const { lease, session, done } = result.picked;
    this.lease = lease;
    this.releaseSlot = done;
    try {
      const ended = this.bodyEnded && this.heldBytes === 0;
      this.send(session.request(this.upstreamHeaders(lease), { endStream: ended }));
    } catch (err) {
      this.fail(502, `pool ${this.pool.name}: ${messageOf(err)}`, 'bad_response');
    }
  }

  private upstreamHeaders(lease: Lease): OutgoingHttpHeaders {
    const request = this.request;
    const out: OutgoingHttpHeaders = {
      ':method': request.method,
      ':path': request.path,
      ':scheme': this.sessions.secure ? 'https' : 'http',
      ':authority': this.target.upstreamHost === 'backend' || request.authority.length === 0 ? lease.backend.id : request.authority,
    };
    const fields = request.headers;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i];
      if (name === 'host' || !forwardable(name, fields[i + 1])) continue;
      const previous = out[name];
      if (previous === undefined) out[name] = fields[i + 1];
      else out[name] = name === 'cookie' ? `${String(previous)}; ${fields[i + 1]}` : [...(Array.isArray(previous) ? previous : [String(previous)]), fields[i + 1]];
    }
    return out;
  }

  private send(upstream: ClientHttp2Stream): void {
    this.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.on('response', (headers) => this.onResponse(headers));
    upstream.on('trailers', (trailers) => (this.trailers = flatFields(trailers)));
    upstream.on('data', (chunk: Buffer) => {
      if (!this.finished && !this.downstream.sendData(chunk)) upstream.pause();
    });
    upstream.on('end', () => this.onEnd());
    upstream.on('close', () => this.onClose(upstream));
    upstream.on('drain', () => this.resumeBody());
    // what arrived while connecting goes up now
    for (const chunk of this.held) {
      this.bodySent += chunk.length;
      upstream.write(chunk);
    }
    this.held = [];
    this.heldBytes = 0;
    if (this.bodyEnded && !upstream.writableEnded) upstream.end();
    else this.resumeBody();
  }

  private onResponse(headers: IncomingHttpHeaders): void {
    if (this.finished) return;
    this.responded = true;
    this.status = Number(headers[':status']);
    this.downstream.sendHead(this.status, flatFields(headers));
  }

  private onEnd(): void {
    if (this.finished) return;
    if (!this.responded) return; // closed without a response: onClose decides
    this.finished = true;
    this.downstream.end(this.trailers);
  }

  private onClose(upstream: ClientHttp2Stream): void {
    this.releaseSlot?.();
    this.releaseSlot = undefined;
    const refused = upstream.rstCode === constants.NGHTTP2_REFUSED_STREAM;
    if (refused && !this.responded && this.bodySent === 0 && !this.finished && this.picker.canRetry()) {
      // the backend did no work: safe to send elsewhere
      this.upstream = undefined;
      this.release('reset');
      void this.connect();
      return;
    }
    const clean = upstream.rstCode === constants.NGHTTP2_NO_ERROR || upstream.rstCode === undefined;
    if (!this.finished) {
      if (clean && this.responded) {
        this.finished = true;
        this.downstream.end(this.trailers);
      } else this.fail(502, `pool ${this.pool.name}: upstream ${this.lease?.backend.id} reset the stream (code ${upstream.rstCode})`, 'reset');
    }
    this.release(clean ? (this.status >= 500 ? 'http_5xx' : 'success') : 'reset');
  }

  private fail(status: number, message: string, outcome: LeaseOutcome): void {
    if (this.finished) return;
    this.finished = true;
    this.upstream?.close(constants.NGHTTP2_CANCEL);
    this.release(outcome);
    this.downstream.fail(new EdgeError('SY_ERR_UPSTREAM', message, { source: 'upstream', status }));
  }

  private release(outcome: LeaseOutcome): void {
    const lease = this.lease;
    this.lease = undefined;
    lease?.release(outcome);
  }
}
