// The upstream-attempt core for pools speaking HTTP/2 (h2c, h2, grpc): one exchange — an HTTP/1.1 request
// of the L7 core (HttpListenerDeps.foreignUpstream) or a request of Switchyard's HTTP/2 codec
// (codec-exchange.ts) — sent as an upstream HTTP/2 stream over the pool's multiplexed sessions
// (H2UpstreamSessions): pick → session → send → retry decision → lease outcome (passive ejection).
//
// The tries are the L7 attempt core's (Attempts, src/l7/attempts.ts), the same object the HTTP/1.1 paths
// use: it decides each retry from the pool's `retries:` (attempts, on, methods, budget), keeps the body for
// a resend, holds the lease and notes the earlier tries. What is HTTP/2 here: `per_try_timeout` (with `on:
// timeout`) cancels a try that has no response head in time (RST_STREAM CANCEL); a stream the backend
// refused (REFUSED_STREAM: it did no work) goes to another backend needing neither `on` nor the budget;
// gRPC calls are retried only when safe — nothing reached a backend (connect error, refused stream), or the
// backend answered trailers-only `grpc-status: 14` (UNAVAILABLE) before any response headers — and never
// once a response byte went to the client.
//
// Body bytes flow with backpressure both ways: a full upstream stream pauses the client
// (downstream.pauseBody), a slow client pauses the upstream stream (sendData → false). The caller owns the
// whole-response timeout: it calls abort() when it gives up.
import { EdgeError, messageOf } from '../../core/index.ts';
import type { Lease, LeaseOutcome } from '../../pool/index.ts';
import { ATTEMPT_GRPC, Attempts, K_GRPC_UNAVAILABLE, K_REFUSED, R_CONNECT_ERROR, R_RESET, R_TIMEOUT, type EarlierAttempt, type ExchangeDownstream, type ExchangeHandle, type ExchangeRequest, type ForeignTarget, type UpstreamPool } from '../../l7/index.ts';
import { forwardable } from '../headers.ts';
import { isGrpc } from '../grpc.ts';
import type { H2UpstreamSessions } from './sessions.ts';
import { CLOSED_CLEANLY, type ClientSession, type ClientStream, type ClientStreamEvents } from './client-session.ts';

const E_REFUSED_STREAM = 0x7;
const E_CANCEL = 0x8;

/** Request body bytes held while no upstream stream exists yet (connecting); more pauses the client. */
const HOLD_LIMIT = 256 * 1024;
const noneTried: ReadonlySet<string> = new Set();

/** The fields of a response head or trailer block that go on to the client (hop-by-hop and te dropped). */
function flatFields(fields: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (!forwardable(name, fields[i + 1]) || name === 'te') continue;
    out.push(name, fields[i + 1]);
  }
  return out;
}

function headerOf(flat: readonly string[], name: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return undefined;
}

/** Every field of the name joined with ", " ('' when none). */
function joinedField(flat: readonly string[], name: string): string {
  let joined = '';
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) joined = joined === '' ? flat[i + 1] : `${joined}, ${flat[i + 1]}`;
  return joined;
}

export class H2ExchangeProxy implements ExchangeHandle, ClientStreamEvents {
  /** Monotonic ms (target.clock) when the last try's stream went up, and when its response head came; 0: not yet. */
  tConnected = 0;
  tFirstByte = 0;
  /** The recent-requests ring's verdict at the response head (0 not asked, 1 keep, 2 passed over) and, when kept, the upstream's Server-Timing. */
  detailVerdict = 0;
  serverTiming = '';
  private readonly pool: UpstreamPool;
  private readonly sessions: H2UpstreamSessions;
  private readonly request: ExchangeRequest;
  private readonly downstream: ExchangeDownstream;
  private readonly target: ForeignTarget;
  private readonly grpc: boolean;
  private upstream: ClientStream | undefined;
  /** The tries: lease, retry decision, budget, the body kept for a resend, earlier tries (the access line reads them). */
  readonly attempts = new Attempts();
  /** Body chunks not written to the current upstream stream yet (copies: they may be kept for a replay). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private bodyEnded: boolean;
  private paused = false;
  private trailers: string[] | undefined;
  /** The response head went downstream: from here on nothing is retried. */
  private responded = false;
  private status = 0;
  private finished = false;
  private perTryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(pool: UpstreamPool, sessions: H2UpstreamSessions, request: ExchangeRequest, downstream: ExchangeDownstream, target: ForeignTarget) {
    this.pool = pool;
    this.sessions = sessions;
    this.request = request;
    this.downstream = downstream;
    this.target = target;
    this.grpc = isGrpc(headerOf(request.headers, 'content-type'));
    this.bodyEnded = request.contentLength === 0;
  }

  start(): void {
    const target = this.target;
    this.attempts.begin(this.pool, target.balance, target.retry, target.budget, target.clock.now(), this.request.method, this.request.contentLength, this.grpc ? ATTEMPT_GRPC : 0);
    void this.firstTry();
  }

  /** Last backend tried ('' before any). */
  get backend(): string {
    return this.attempts.backend;
  }

  /** Tries started (1 + retries). */
  get tries(): number {
    return this.attempts.tries;
  }

  /** When the last try picked its backend (0: not yet), its pick's number in the pool's log, and the tries before it. */
  get pickedAt(): number {
    return this.attempts.tPick;
  }

  get pickSeq(): number {
    return this.attempts.pickSeq;
  }

  get earlier(): readonly EarlierAttempt[] | null {
    return this.attempts.earlier;
  }

  /** ExchangeHandle (foreign): when the last try's stream was opened, for the access line's connect_ms. */
  get connectedAt(): number {
    return this.tConnected;
  }

  /** The access log's `tried`, as the HTTP/1.1 path has it: the backends before the last one, in order. */
  failedBackends(): ReadonlySet<string> {
    return this.attempts.tried ?? noneTried;
  }

  // ---- ExchangeHandle (from the L7 core or the codec) ----

  bodyData(chunk: Buffer): void {
    if (this.finished) return;
    const copy = Buffer.from(chunk);
    const upstream = this.upstream;
    if (upstream !== undefined && this.held.length === 0) {
      if (!this.write(upstream, copy)) this.pauseBody();
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

  abort(timedOut = false): void {
    if (this.finished) return;
    this.settle();
    this.cancelUpstream();
    this.release(timedOut && !this.responded ? 'timeout' : 'cancelled');
  }

  // ---- the tries ----

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

  private async firstTry(): Promise<void> {
    // never answer inside the call that created this proxy: the caller sets up its state first
    await Promise.resolve();
    const lease = this.attempts.pick();
    if (lease === undefined) this.fail(503, `pool ${this.pool.name}: no healthy backend`, undefined);
    else await this.tryOn(lease);
  }

  /** One try on `lease`'s backend: a session, then the stream. A connect failure is retried when allowed. */
  private async tryOn(lease: Lease): Promise<void> {
    this.attempts.start(lease, this.target.clock.now());
    // a session that is up takes the stream at once; otherwise wait for one (connecting, or the CA file)
    let acquired: { session: ClientSession; done: () => void } | undefined = this.sessions.ready(lease.backend);
    if (acquired === undefined) {
      try {
        acquired = await this.sessions.acquire(lease.backend);
      } catch (err) {
        if (this.finished) return;
        if (this.retried(R_CONNECT_ERROR, 'connect_error')) return;
        this.release('connect_error');
        this.fail(err instanceof EdgeError ? err.status : 503, messageOf(err), undefined);
        return;
      }
    }
    if (this.finished) {
      acquired.done();
      return;
    }
    let upstream: ClientStream;
    try {
      const ended = this.bodyEnded && this.heldBytes === 0;
      upstream = acquired.session.request(this.upstreamHeaders(lease), ended, this);
    } catch (err) {
      acquired.done();
      this.fail(502, `pool ${this.pool.name}: ${messageOf(err)}`, 'bad_response');
      return;
    }
    upstream.onClosed = acquired.done;
    this.send(upstream);
  }

  /**
   * The current try failed with `kind` (the attempt core decides): when another backend takes the request,
   * the failed try's stream is cancelled (its lease released with `outcome`), the body it sent goes first
   * on the next, and true is returned. Nothing is retried once the response head went downstream.
   */
  private retried(kind: number, outcome: LeaseOutcome): boolean {
    if (this.finished || this.responded) return false;
    const sent = this.upstream !== undefined;
    const next = this.attempts.retry(kind, outcome, sent, this.target.clock.now(), this);
    if (next === undefined) return false;
    this.tryAgain(next, sent);
    return true;
  }

  /** A refused stream that no other backend took goes once more to the same one (Attempts.resendRefused). */
  private refusedAgain(): boolean {
    if (this.finished || this.responded) return false;
    const sent = this.upstream !== undefined;
    const lease = this.attempts.resendRefused(sent, this.target.clock.now(), this);
    if (lease === undefined) return false;
    this.tryAgain(lease, sent);
    return true;
  }

  /** The failed try's stream cancelled, the body it sent first in line again: the next try on `lease`. */
  private tryAgain(lease: Lease, sent: boolean): void {
    this.clearPerTry();
    this.cancelUpstream();
    this.upstream = undefined;
    const resend = sent ? this.attempts.takeResend() : null;
    if (resend !== null) {
      for (const chunk of resend) this.heldBytes += chunk.length;
      this.held = resend.concat(this.held);
    }
    this.status = 0;
    this.trailers = undefined;
    this.tConnected = 0;
    this.tFirstByte = 0;
    void this.tryOn(lease);
  }

  /** The request's HEADERS as a flat list: pseudo-fields first, then what may go to the next hop. */
  private upstreamHeaders(lease: Lease): string[] {
    const request = this.request;
    const out: string[] = [
      ':method', request.method,
      ':scheme', this.sessions.secure ? 'https' : 'http',
      ':path', request.path,
      ':authority', this.target.upstreamHost === 'backend' || request.authority.length === 0 ? lease.backend.id : request.authority,
    ];
    const fields = request.headers;
    let cookieAt = -1;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i];
      if (name === 'host' || !forwardable(name, fields[i + 1])) continue;
      // cookies go up as one field (RFC 9113 §8.2.3 lets them be split; many backends want one)
      if (name === 'cookie') {
        if (cookieAt >= 0) {
          out[cookieAt] = `${out[cookieAt]}; ${fields[i + 1]}`;
          continue;
        }
        cookieAt = out.length + 1;
      }
      out.push(name, fields[i + 1]);
    }
    return out;
  }

  /** Writes a body chunk to the current stream, keeping it for a resend while one is possible. */
  private write(upstream: ClientStream, chunk: Buffer, end = false): boolean {
    this.attempts.keep(chunk);
    return upstream.write(chunk, end);
  }

  // ---- ClientStreamEvents (from the current try's stream; a dropped try's are ignored)

  onResponse(stream: ClientStream, status: number, fields: string[], ended: boolean): void {
    if (stream === this.upstream) this.onResponseHead(status, fields, ended);
  }

  onData(stream: ClientStream, chunk: Buffer): void {
    if (stream === this.upstream && this.responded && !this.finished && !this.downstream.sendData(chunk)) stream.pause();
  }

  onEnd(stream: ClientStream, trailers: string[] | undefined): void {
    if (stream !== this.upstream) return;
    if (trailers !== undefined) this.trailers = flatFields(trailers);
    this.onEndOfResponse();
  }

  onClose(stream: ClientStream, code: number): void {
    if (stream === this.upstream) this.onStreamClose(code);
  }

  onDrain(stream: ClientStream): void {
    if (stream === this.upstream) this.resumeBody();
  }

  private send(upstream: ClientStream): void {
    this.upstream = upstream;
    this.tConnected = this.target.clock.now();
    const perTry = this.attempts.perTry;
    if (perTry >= 0) this.perTryTimer = setTimeout(() => this.perTryTimedOut(), perTry);
    // what arrived while connecting (and, on a retry, what the failed try had sent) goes up now
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    // a body that arrived whole while connecting (a unary call) ends on its last DATA frame
    for (let i = 0; i < held.length; i++) this.write(upstream, held[i], this.bodyEnded && i === held.length - 1);
    if (this.bodyEnded && !upstream.writableEnded) upstream.end();
    else this.resumeBody();
  }

  /** `ended`: the HEADERS frame carried END_STREAM (a trailers-only gRPC answer). */
  private onResponseHead(status: number, fields: string[], ended: boolean): void {
    if (this.finished) return;
    this.clearPerTry();
    this.status = status;
    this.tFirstByte = this.target.clock.now();
    const kind = this.grpc ? (ended && headerOf(fields, 'grpc-status') === '14' ? K_GRPC_UNAVAILABLE : 0) : this.attempts.retriesOn(this.status) ? this.status : 0;
    // the answer is discarded unseen: the client gets the next backend's
    if (kind !== 0 && this.retried(kind, 'http_5xx')) return;
    this.responded = true;
    const ring = this.target.detail;
    if (ring !== undefined) {
      const now = this.tFirstByte;
      const keep = ring.wantsDetail(this.status, now - (this.target.tStart ?? now), now);
      this.detailVerdict = keep ? 1 : 2;
      if (keep) this.serverTiming = joinedField(fields, 'server-timing');
    }
    this.downstream.sendHead(this.status, flatFields(fields));
  }

  private onEndOfResponse(): void {
    if (this.finished || !this.responded) return; // closed without a response: onClose decides
    this.settle();
    this.downstream.end(this.trailers);
  }

  private onStreamClose(code: number): void {
    const clean = code === CLOSED_CLEANLY;
    if (this.retried(code === E_REFUSED_STREAM ? K_REFUSED : R_RESET, 'reset')) return;
    if (code === E_REFUSED_STREAM && this.refusedAgain()) return;
    if (!this.finished) {
      if (clean && this.responded) {
        this.settle();
        this.downstream.end(this.trailers);
      } else this.fail(502, `pool ${this.pool.name}: upstream ${this.attempts.backend} reset the stream (code ${code})`, 'reset');
    }
    this.release(clean && this.responded ? (this.status >= 500 ? 'http_5xx' : 'success') : 'reset');
  }

  private perTryTimedOut(): void {
    this.perTryTimer = undefined;
    if (this.finished || this.responded) return;
    if (!this.retried(R_TIMEOUT, 'timeout')) this.fail(504, `pool ${this.pool.name}: upstream ${this.attempts.backend} sent no response head within per_try_timeout`, 'timeout');
  }

  private clearPerTry(): void {
    if (this.perTryTimer !== undefined) clearTimeout(this.perTryTimer);
    this.perTryTimer = undefined;
  }

  /** Resets the current try's stream; detached first, so its close (at once) is not taken for the try's outcome. */
  private cancelUpstream(): void {
    const upstream = this.upstream;
    this.upstream = undefined;
    if (upstream !== undefined && !upstream.closed) upstream.close(E_CANCEL);
  }

  /** `outcome`: how the current lease ends (undefined: none is held). */
  private fail(status: number, message: string, outcome: LeaseOutcome | undefined): void {
    if (this.finished) return;
    this.settle();
    this.cancelUpstream();
    if (outcome !== undefined) this.release(outcome);
    this.downstream.fail(new EdgeError('SY_ERR_UPSTREAM', message, { source: 'upstream', status }));
  }

  /** The exchange is over for the client: no more tries, the budget's retry goes back. */
  private settle(): void {
    this.finished = true;
    this.clearPerTry();
    this.attempts.settle();
  }

  /** The current try's lease ends with `outcome` (passive ejection counts it). */
  private release(outcome: LeaseOutcome): void {
    this.attempts.release(outcome);
  }
}
