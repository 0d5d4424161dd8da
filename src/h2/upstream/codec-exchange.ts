// A request of Switchyard's HTTP/2 codec routed to a pool speaking HTTP/2 (h2c, h2, grpc): proxied stream
// to stream through H2ExchangeProxy on the listener's upstream sessions, so a listener with gRPC routes
// keeps the codec. What the L7 core does for the foreign exchanges of HTTP/1.1 clients is done here: the
// forwarded headers, the response timeout (gRPC: the client's grpc-timeout instead, answered with
// DEADLINE_EXCEEDED), and the access-log line. Trailers and flow control both ways come from the codec's
// stream (ExchangeDownstream) and H2ExchangeProxy.
import { EdgeError, type Clock, type TimerHandle } from '../../core/index.ts';
import type { EarlierAttempt, ExchangeDownstream, ExchangeHandle, ExchangeRequest, RetryBudget, RetryPolicy, UpstreamPool } from '../../l7/index.ts';
import type { BalanceInput } from '../../pool/index.ts';
import { grpcStatus, parseGrpcTimeout } from '../grpc.ts';
import { H2ExchangeProxy } from './exchange-proxy.ts';
import type { H2UpstreamSessions } from './sessions.ts';

export interface CodecExchangeLog {
  status: number;
  grpcStatus: string | undefined;
  bytesIn: number;
  bytesOut: number;
  /** The last backend tried ('' when none was), the tries, and the backends tried before the last one. */
  backend: string;
  attempts: number;
  tried: ReadonlySet<string>;
  /** Monotonic ms (retryClock) when the last try's stream went up and its response head came; 0: never. */
  tConnected: number;
  tFirstByte: number;
  /** When the last try picked its backend (0: none did), the tries before it, the ring's verdict and the upstream's Server-Timing (kept requests only). */
  tAttempt: number;
  earlier: readonly EarlierAttempt[] | null;
  /** The last pick's number in the pool's log (UpstreamPool.copyPick); 0: none. */
  pickSeq: number;
  detail: number;
  serverTiming: string;
}

export interface CodecExchangeOptions {
  pool: UpstreamPool;
  sessions: H2UpstreamSessions;
  /** The request as it goes up: :path after strip_prefix / rewrite, forwarded headers set. */
  request: ExchangeRequest;
  upstreamHost: 'client' | 'backend';
  balance: BalanceInput;
  /** The pool's `retries:` and the listener's budget for it; retryClock is what the budget counts with. */
  retry: RetryPolicy;
  budget: RetryBudget;
  retryClock: { now(): number };
  /** When the request began (retryClock) and the ring asked at the response head (ForeignTarget.detail). */
  tStart: number;
  detail: { wantsDetail(status: number, elapsed: number, now: number): boolean };
  /** Until the response head (not for gRPC, whose deadline is the client's grpc-timeout). */
  responseTimeoutMs: number;
  grpc: boolean;
  /** limits.max_body_size: a streamed body that grows past it is cut (413 while nothing was answered). */
  maxBodySize: number;
  clock: Clock;
  onDone(log: CodecExchangeLog): void;
}

/** Sits between the codec's stream and H2ExchangeProxy: sees the response go by, owns the timer. */
class CodecExchange implements ExchangeDownstream, ExchangeHandle {
  private readonly downstream: ExchangeDownstream;
  private readonly options: CodecExchangeOptions;
  private proxy: H2ExchangeProxy | null = null;
  private timer: TimerHandle | null = null;
  /** The timer is the call's own grpc-timeout (it outlives the response head), not upstream_response. */
  private deadline = false;
  private status = 0;
  private grpcStatus: string | undefined;
  private bytesIn = 0;
  private bytesOut = 0;
  private done = false;

  constructor(downstream: ExchangeDownstream, options: CodecExchangeOptions) {
    this.downstream = downstream;
    this.options = options;
  }

  /** The backend of the current (or last) try, '' before one was picked (response filters read it). */
  get backend(): string {
    return this.proxy?.backend ?? '';
  }

  start(): void {
    const { options } = this;
    const grpcTimeout = options.grpc ? parseGrpcTimeout(headerOf(options.request.headers, 'grpc-timeout')) : undefined;
    // a call's own deadline bounds the whole call; without one, upstream_response bounds the wait for the
    // response head, as on every other pair (a stream that answered may then run as long as it likes)
    this.deadline = grpcTimeout !== undefined;
    const timeout = grpcTimeout ?? options.responseTimeoutMs;
    if (timeout > 0) this.timer = options.clock.setTimeout(() => this.timedOut(this.deadline), timeout);
    this.proxy = new H2ExchangeProxy(options.pool, options.sessions, options.request, this, {
      upstreamHost: options.upstreamHost,
      balance: options.balance,
      retry: options.retry,
      budget: options.budget,
      clock: options.retryClock,
      tStart: options.tStart,
      detail: options.detail,
    });
    this.proxy.start();
  }

  private timedOut(deadline: boolean): void {
    this.timer = null;
    if (this.done) return;
    // the client's own deadline says nothing of the backend; a missed upstream_response does
    this.proxy?.abort(!deadline);
    if (deadline && this.status !== 0) {
      // the response is under way: its end carries the status
      this.end(['grpc-status', String(grpcStatus.DEADLINE_EXCEEDED), 'grpc-message', 'deadline exceeded at the proxy']);
      return;
    }
    if (deadline) {
      // nothing answered yet: the trailers-only form with the deadline's own status (HTTP's 504 would map to
      // UNAVAILABLE, which a client may retry)
      this.status = 200;
      this.grpcStatus = String(grpcStatus.DEADLINE_EXCEEDED);
      this.finish();
      this.downstream.sendHead(200, ['content-type', 'application/grpc', 'grpc-status', this.grpcStatus, 'grpc-message', 'deadline exceeded at the proxy']);
      this.downstream.end();
      return;
    }
    this.fail(new EdgeError('SY_ERR_UPSTREAM_TIMEOUT', deadline ? 'deadline exceeded at the proxy' : 'upstream response timeout', { source: 'upstream', status: 504 }));
  }

  private clearTimer(): void {
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.clearTimer();
    const proxy = this.proxy;
    this.options.onDone({
      status: this.status,
      grpcStatus: this.grpcStatus,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      backend: proxy?.backend ?? '',
      attempts: proxy?.tries ?? 0,
      tried: proxy !== null && proxy.tries > 1 ? proxy.failedBackends() : noneTried,
      tConnected: proxy?.tConnected ?? 0,
      tFirstByte: proxy?.tFirstByte ?? 0,
      tAttempt: proxy?.pickedAt ?? 0,
      earlier: proxy?.earlier ?? null,
      pickSeq: proxy?.pickSeq ?? 0,
      detail: proxy?.detailVerdict ?? 0,
      serverTiming: proxy?.serverTiming ?? '',
    });
  }

  // ---- ExchangeDownstream (from H2ExchangeProxy) ----

  sendHead(status: number, headers: string[]): void {
    if (this.done) return;
    this.status = status;
    if (!this.deadline) this.clearTimer();
    this.grpcStatus = headerOf(headers, 'grpc-status');
    this.downstream.sendHead(status, headers);
  }

  sendData(chunk: Buffer): boolean {
    if (this.done) return true;
    this.bytesOut += chunk.length;
    return this.downstream.sendData(chunk);
  }

  end(trailers?: string[]): void {
    if (this.done) return;
    if (trailers !== undefined) this.grpcStatus = headerOf(trailers, 'grpc-status') ?? this.grpcStatus;
    this.finish();
    this.downstream.end(trailers);
  }

  fail(error: EdgeError): void {
    if (this.done) return;
    if (this.options.grpc && this.status !== 0) {
      // a gRPC response under way ends with a status in its trailers, not a reset
      this.end(['grpc-status', String(grpcStatus.UNAVAILABLE), 'grpc-message', 'upstream reset the stream']);
      return;
    }
    if (this.status === 0) {
      // logged as the edge's error (504, 502, 503), as on every other pair, though a gRPC client reads it from
      // a trailers-only 200: metrics and the access log count it as the failure it was
      this.status = error.status;
      if (this.options.grpc) this.grpcStatus = String(error.status === 504 ? grpcStatus.DEADLINE_EXCEEDED : grpcStatus.UNAVAILABLE);
    }
    this.finish();
    this.downstream.fail(error);
  }

  pauseBody(): void {
    this.downstream.pauseBody();
  }

  resumeBody(): void {
    this.downstream.resumeBody();
  }

  // ---- ExchangeHandle (from the codec's stream) ----

  bodyData(chunk: Buffer): void {
    if (this.done) return;
    this.bytesIn += chunk.length;
    if (this.bytesIn > this.options.maxBodySize) {
      this.proxy?.abort();
      this.fail(new EdgeError('SY_ERR_BODY_TOO_LARGE', 'request body larger than limits.max_body_size', { source: 'downstream', status: 413, retry: 'final' }));
      return;
    }
    this.proxy?.bodyData(chunk);
  }

  bodyEnd(): void {
    this.proxy?.bodyEnd();
  }

  drain(): void {
    this.proxy?.drain();
  }

  abort(): void {
    if (this.done) return;
    // 499: the client went away before the response began (as the HTTP/1.1 path logs it)
    if (this.status === 0) this.status = 499;
    this.finish();
    this.proxy?.abort();
  }
}

const noneTried: ReadonlySet<string> = new Set();

function headerOf(flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return undefined;
}

/** Starts proxying; the returned handle is the codec stream's (body in, abort). */
export function proxyCodecExchange(downstream: ExchangeDownstream, options: CodecExchangeOptions): ExchangeHandle {
  const exchange = new CodecExchange(downstream, options);
  exchange.start();
  return exchange;
}
