// One downstream HTTP/2 stream proxied to one upstream HTTP/2 stream (pools with protocol h2c, h2, grpc).
// Stream to stream, so gRPC's four call shapes pass through unchanged: bodies flow both ways at once
// (bidi), each direction piped with backpressure (a slow reader pauses only its own upstream stream),
// and trailers (grpc-status, grpc-message, custom ones) are relayed as trailers. Failures before any
// response byte are retried on another backend when the connection could not be made; otherwise a gRPC
// call gets a gRPC status (trailers-only form when nothing was sent yet), other requests an HTTP status.
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { BalanceInput, Lease, LeaseOutcome } from '../../pool/index.ts';
import { EdgeError, messageOf, type Clock, type Logger } from '../../core/index.ts';
import { forwardableHeaders } from '../headers.ts';
import { formatGrpcTimeout, grpcStatus, isGrpc, parseGrpcTimeout, respondGrpcStatus } from '../grpc.ts';
import type { StreamContext } from '../frontend.ts';
import type { H2UpstreamSessions } from './sessions.ts';
import { SessionPicker } from './session-pick.ts';

export interface H2UpstreamPool {
  readonly name: string;
  pick(input: BalanceInput, tried?: ReadonlySet<string>): Lease | undefined;
}

export interface H2ProxyTarget {
  pool: H2UpstreamPool;
  sessions: H2UpstreamSessions;
  /** :path for the upstream (after strip_prefix / rewrite). */
  path: string;
  /** :authority for the upstream: the client's, or the backend address (route upstream_host: backend). */
  upstreamHost: 'client' | 'backend';
  /** Backends tried before giving up (retries.attempts + 1). */
  attempts: number;
  /** Time allowed until the upstream's response headers (not for gRPC: its deadline is the client's). */
  responseTimeoutMs: number;
}

export interface H2ProxyLog {
  status: number;
  grpcStatus: string | undefined;
  backend: string | undefined;
  bytesIn: number;
  bytesOut: number;
  error: string | undefined;
}

export interface H2ProxyRequest {
  stream: ServerHttp2Stream;
  headers: IncomingHttpHeaders;
  context: StreamContext;
  /** Forwarded headers and the like, computed by the caller. */
  extraHeaders: Readonly<Record<string, string>>;
  /** Added to every response (HSTS). */
  responseHeaders: Readonly<Record<string, string>> | undefined;
  balance: BalanceInput;
  clock: Clock;
  logger: Logger;
  onDone(log: H2ProxyLog): void;
  /** The route's filters: edit the upstream request's fields, then the response's (pseudo-headers aside). */
  onUpstreamHead?(out: OutgoingHttpHeaders): void;
  onResponseHead?(out: OutgoingHttpHeaders): void;
}

const openStreamOptions = { endStream: false };
const endedStreamOptions = { endStream: true };

export class H2StreamProxy {
  private readonly request: H2ProxyRequest;
  private readonly target: H2ProxyTarget;
  private readonly grpc: boolean;
  private readonly picker: SessionPicker;
  private upstream: ClientHttp2Stream | undefined;
  private lease: Lease | undefined;
  private releaseSlot: (() => void) | undefined;
  private trailers: OutgoingHttpHeaders | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private deadlineAt = 0;
  private countingIn = false;
  private finished = false;
  private status = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private error: string | undefined;

  constructor(request: H2ProxyRequest, target: H2ProxyTarget) {
    this.request = request;
    this.target = target;
    this.grpc = isGrpc(request.headers['content-type']);
    // connect failures and refused streams both count against the attempts
    this.picker = new SessionPicker(target.pool, target.sessions, request.balance, target.attempts);
  }

  start(): void {
    const { stream, headers, clock } = this.request;
    stream.on('close', () => this.downstreamClosed());
    stream.on('wantTrailers', () => stream.sendTrailers(this.trailers ?? {}));
    const timeout = this.grpc ? parseGrpcTimeout(headers['grpc-timeout']) : undefined;
    if (timeout !== undefined) {
      this.deadlineAt = clock.monotonic() + timeout;
      this.timer = setTimeout(() => this.deadlineExceeded(), timeout);
    } else if (!this.grpc && this.target.responseTimeoutMs > 0) {
      this.timer = setTimeout(() => this.responseTimedOut(), this.target.responseTimeoutMs);
    }
    void this.connect();
  }

  /** Pick → session; a backend that cannot be reached is marked tried and the next one picked. */
  private async connect(): Promise<void> {
    const result = await this.picker.next(() => this.finished);
    if ('abandoned' in result) return;
    if ('failed' in result) {
      const message = result.failed ? messageOf(result.failed) : `pool ${this.target.pool.name}: no healthy backend`;
      this.error = message;
      this.answerError(503, grpcStatus.UNAVAILABLE, message);
      return;
    }
    const { lease, session, done } = result.picked;
    this.lease = lease;
    this.releaseSlot = done;
    try {
      // a request whose HEADERS ended the stream (GET, most unary calls have a body) goes up the same way
      const options = this.request.stream.endAfterHeaders ? endedStreamOptions : openStreamOptions;
      this.send(session.request(this.upstreamHeaders(), options));
    } catch (err) {
      this.fail(err);
    }
  }

  private upstreamHeaders(): OutgoingHttpHeaders {
    const { headers, extraHeaders } = this.request;
    const out: OutgoingHttpHeaders = {
      ':method': headers[':method'],
      ':path': this.target.path,
      ':scheme': this.target.sessions.secure ? 'https' : 'http',
    };
    const authority = this.target.upstreamHost === 'backend' ? this.lease?.backend.id : headers[':authority'];
    if (authority !== undefined) out[':authority'] = authority;
    forwardableHeaders(headers, out);
    for (const name in extraHeaders) out[name] = extraHeaders[name];
    this.request.onUpstreamHead?.(out);
    if (this.deadlineAt > 0) out['grpc-timeout'] = formatGrpcTimeout(this.deadlineAt - this.request.clock.monotonic());
    return out;
  }

  private send(upstream: ClientHttp2Stream): void {
    const { stream } = this.request;
    this.upstream = upstream;
    upstream.on('error', (err) => (this.error ??= messageOf(err)));
    upstream.on('response', (headers, flags: number) => this.onResponse(headers, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0));
    upstream.on('trailers', (trailers) => (this.trailers = forwardableHeaders(trailers)));
    upstream.on('close', () => this.upstreamClosed());
    upstream.on('data', (chunk: Buffer) => (this.bytesOut += chunk.length));
    // counted from the first pipe on (a 'data' listener earlier would start the flow with nowhere to go)
    if (!this.countingIn) {
      this.countingIn = true;
      stream.on('data', (chunk: Buffer) => (this.bytesIn += chunk.length));
    }
    // pipe carries backpressure: when the upstream stream's window is full, the downstream stream is
    // paused (its WINDOW_UPDATEs stop), and only this stream's client is slowed
    if (stream.endAfterHeaders) stream.resume();
    else stream.pipe(upstream);
  }

  /** `ended`: the HEADERS frame carried END_STREAM (endAfterHeaders is not yet set when 'response' fires). */
  private onResponse(headers: IncomingHttpHeaders, ended: boolean): void {
    const { stream, responseHeaders } = this.request;
    const upstream = this.upstream!;
    this.status = Number(headers[':status']);
    if (!this.grpc) this.clearTimer();
    if (stream.destroyed || stream.closed) return;
    const out = forwardableHeaders(headers, { ':status': this.status });
    if (responseHeaders) for (const name in responseHeaders) out[name] ??= responseHeaders[name];
    this.request.onResponseHead?.(out);
    if (ended) {
      this.trailers = { 'grpc-status': headers['grpc-status'] };
      // trailers-only (gRPC errors): one HEADERS frame with END_STREAM, as the upstream sent it
      stream.respond(out, { endStream: true });
      return;
    }
    stream.respond(out, { waitForTrailers: true });
    upstream.pipe(stream);
  }

  private upstreamClosed(): void {
    const upstream = this.upstream!;
    this.releaseSlot?.();
    this.releaseSlot = undefined;
    const { stream } = this.request;
    if (this.refusedBeforeWork(upstream)) {
      // REFUSED_STREAM (or a GOAWAY that excluded it) means the backend did no work: safe to send elsewhere
      stream.unpipe(upstream);
      stream.pause(); // hold request body bytes until the next upstream stream is piped
      this.upstream = undefined;
      this.release('reset');
      void this.connect();
      return;
    }
    const clean = upstream.rstCode === constants.NGHTTP2_NO_ERROR || upstream.rstCode === undefined;
    if (!clean && !this.finished && !stream.destroyed) {
      const message = `pool ${this.target.pool.name}: upstream ${this.lease?.backend.id} reset the stream (code ${upstream.rstCode})`;
      this.error ??= message;
      if (!stream.headersSent) this.answerError(502, grpcStatus.UNAVAILABLE, message);
      else if (this.grpc && !stream.writableEnded) this.endWithTrailers(grpcStatus.UNAVAILABLE, 'upstream reset the stream');
      else this.request.context.reset(stream, constants.NGHTTP2_INTERNAL_ERROR);
    }
    this.release(clean ? (this.status >= 500 ? 'http_5xx' : 'success') : 'reset');
  }

  /** A stream the upstream refused before any response, while no request body byte has gone up yet. */
  private refusedBeforeWork(upstream: ClientHttp2Stream): boolean {
    return (
      upstream.rstCode === constants.NGHTTP2_REFUSED_STREAM &&
      this.status === 0 &&
      this.bytesIn === 0 &&
      !this.finished &&
      this.picker.canRetry() &&
      !this.request.stream.destroyed
    );
  }

  private downstreamClosed(): void {
    if (!this.finished) this.finish();
    const upstream = this.upstream;
    if (upstream && !upstream.closed && !upstream.destroyed) {
      upstream.close(constants.NGHTTP2_CANCEL);
      this.release('cancelled');
    }
  }

  private deadlineExceeded(): void {
    this.timer = undefined;
    this.error = 'deadline exceeded';
    this.upstream?.close(constants.NGHTTP2_CANCEL);
    const { stream } = this.request;
    if (!stream.headersSent) respondGrpcStatus(stream, grpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded at the proxy');
    else this.endWithTrailers(grpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded at the proxy');
    this.release('timeout');
  }

  private responseTimedOut(): void {
    this.timer = undefined;
    this.error = 'upstream response timeout';
    this.upstream?.close(constants.NGHTTP2_CANCEL);
    this.answerError(504, grpcStatus.DEADLINE_EXCEEDED, 'upstream response timeout');
    this.release('timeout');
  }

  /** Ends a stream whose headers went out (with waitForTrailers) with a gRPC status in its trailers. */
  private endWithTrailers(code: number, message: string): void {
    const { stream } = this.request;
    this.upstream?.unpipe(stream);
    this.trailers = { 'grpc-status': String(code), 'grpc-message': message };
    if (!stream.writableEnded) stream.end();
  }

  private answerError(status: number, grpcCode: number, message: string): void {
    const { stream } = this.request;
    if (stream.destroyed || stream.closed) return;
    if (stream.headersSent) {
      this.request.context.reset(stream, constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    this.status = this.grpc ? 200 : status;
    if (this.grpc) {
      respondGrpcStatus(stream, grpcCode, message);
      return;
    }
    stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8' });
    stream.end(`${message}\n`);
  }

  private fail(err: unknown): void {
    this.error = messageOf(err);
    this.answerError(502, grpcStatus.INTERNAL, err instanceof EdgeError ? err.message : 'proxy error');
    this.release('bad_response');
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private release(outcome: LeaseOutcome): void {
    const lease = this.lease;
    this.lease = undefined;
    lease?.release(outcome);
  }

  private finish(): void {
    this.finished = true;
    this.clearTimer();
    this.releaseSlot?.();
    this.releaseSlot = undefined;
    this.request.onDone({
      status: this.status,
      grpcStatus: this.trailers?.['grpc-status'] as string | undefined,
      backend: [...this.picker.tried].pop(),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      error: this.error,
    });
  }
}
