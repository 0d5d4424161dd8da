// The upstream-attempt core for pools speaking HTTP/2 (h2c, h2, grpc): one exchange — an HTTP/1.1 request
// of the L7 core (HttpListenerDeps.foreignUpstream) or a request of Switchyard's HTTP/2 codec
// (codec-exchange.ts) — sent as an upstream HTTP/2 stream over the pool's multiplexed sessions
// (H2UpstreamSessions): pick → session → send → retry decision → lease outcome (passive ejection).
//
// Retries follow the pool's `retries:` exactly as the HTTP/1.1 path reads them (retry-policy.ts): at most
// `attempts` more tries, each on a backend not tried yet; a failure is retried only when `on` enables it
// (connect_error, reset, timeout, or a status such as 503, whose response is then discarded unseen), the
// pool's retry budget has room, and the request can be sent again — nothing went up yet, or the method is
// in `methods` and every body byte sent is still kept (at most REPLAY_LIMIT bytes). `per_try_timeout`
// (with `on: timeout`) cancels a try that has no response head in time (RST_STREAM CANCEL). A stream the
// backend refused (REFUSED_STREAM: it did no work) is resent like HTTP/1.1's keep-alive race: needing
// neither `on` nor the budget. gRPC calls are retried only when safe: nothing reached a backend (connect
// error, refused stream), or the backend answered trailers-only `grpc-status: 14` (UNAVAILABLE) before any
// response headers — never once a response byte went to the client.
//
// Body bytes flow with backpressure both ways: a full upstream stream pauses the client
// (downstream.pauseBody), a slow client pauses the upstream stream (sendData → false). The caller owns the
// whole-response timeout: it calls abort() when it gives up.
import { EdgeError, messageOf } from '../../core/index.ts';
import type { Lease, LeaseOutcome } from '../../pool/index.ts';
import { REPLAY_LIMIT, R_CONNECT_ERROR, R_RESET, R_TIMEOUT, noteAttempt, retryEnabled, type EarlierAttempt, type ExchangeDownstream, type ExchangeHandle, type ExchangeRequest, type ForeignTarget, type UpstreamPool } from '../../l7/index.ts';
import { forwardable } from '../headers.ts';
import { isGrpc } from '../grpc.ts';
import type { H2UpstreamSessions } from './sessions.ts';
import { CLOSED_CLEANLY, type ClientSession, type ClientStream, type ClientStreamEvents } from './client-session.ts';

const E_REFUSED_STREAM = 0x7;
const E_CANCEL = 0x8;

/** Request body bytes held while no upstream stream exists yet (connecting); more pauses the client. */
const HOLD_LIMIT = 256 * 1024;
/** Failure kinds besides retry-policy.ts's R_* bits and statuses: retried without `on`. */
const K_REFUSED = -1;
const K_GRPC_UNAVAILABLE = -2;

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
  /** Backend ids tried so far, in order (the access log's `tried`). */
  readonly tried = new Set<string>();
  /** Tries started (1 + retries). */
  tries = 0;
  /** Monotonic ms (target.clock) when the last try's stream went up, and when its response head came; 0: not yet. */
  tConnected = 0;
  tFirstByte = 0;
  /** When the last try picked its backend (0: not yet), and the tries before it (null until a retry). */
  pickedAt = 0;
  /** The last pick's number in the pool's log (UpstreamPool.lastPick): the waterfall's candidates; 0 before. */
  pickSeq = 0;
  earlier: EarlierAttempt[] | null = null;
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
  private lease: Lease | undefined;
  /** Body chunks not written to the current upstream stream yet (copies: they may be kept for a replay). */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** Body chunks written upstream on this try, kept for a resend; null once a resend is impossible. */
  private replay: Buffer[] | null;
  private replayBytes = 0;
  private bodyEnded: boolean;
  /** Body bytes written to the current upstream stream. */
  private bodySent = 0;
  private paused = false;
  private trailers: string[] | undefined;
  /** The response head went downstream: from here on nothing is retried. */
  private responded = false;
  private status = 0;
  private finished = false;
  private budgetHeld = false;
  private perTryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(pool: UpstreamPool, sessions: H2UpstreamSessions, request: ExchangeRequest, downstream: ExchangeDownstream, target: ForeignTarget) {
    this.pool = pool;
    this.sessions = sessions;
    this.request = request;
    this.downstream = downstream;
    this.target = target;
    this.grpc = isGrpc(headerOf(request.headers, 'content-type'));
    this.bodyEnded = request.contentLength === 0;
    // kept only when a resend could use it: a method that may be resent (any gRPC call, for UNAVAILABLE) whose body can fit
    const resendable = this.grpc || target.retry.methods.has(request.method);
    this.replay = target.retry.attempts > 0 && resendable && request.contentLength <= REPLAY_LIMIT ? [] : null;
  }

  start(): void {
    if (this.target.retry.attempts > 0) this.target.budget.request(this.target.clock.now());
    void this.firstTry();
  }

  /** Last backend tried ('' before any). */
  get backend(): string {
    let last = '';
    for (const id of this.tried) last = id;
    return last;
  }

  /** ExchangeHandle (foreign): when the last try's stream was opened, for the access line's connect_ms. */
  get connectedAt(): number {
    return this.tConnected;
  }

  /** The access log's `tried`, as the HTTP/1.1 path has it: the backends before the last one, in order. */
  failedBackends(): ReadonlySet<string> {
    const failed = new Set(this.tried);
    failed.delete(this.backend);
    return failed;
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
    const lease = this.pool.pick(this.target.balance, this.tried);
    this.pickSeq = this.pool.lastPick ?? 0;
    if (lease === undefined) this.fail(503, `pool ${this.pool.name}: no healthy backend`, undefined);
    else await this.tryOn(lease);
  }

  /** One try on `lease`'s backend: a session, then the stream. A connect failure is retried when allowed. */
  private async tryOn(lease: Lease): Promise<void> {
    this.tries++;
    this.tried.add(lease.backend.id);
    this.lease = lease;
    this.pickedAt = this.target.clock.now();
    // a session that is up takes the stream at once; otherwise wait for one (connecting, or the CA file)
    let acquired: { session: ClientSession; done: () => void } | undefined = this.sessions.ready(lease.backend);
    if (acquired === undefined) {
      try {
        acquired = await this.sessions.acquire(lease.backend);
      } catch (err) {
        if (this.finished) return;
        const next = this.retryable(R_CONNECT_ERROR);
        this.release('connect_error');
        if (next !== undefined) {
          this.earlier = noteAttempt(this.earlier, lease.backend.id, this.pickedAt, 0, 0, this.target.clock.now(), 'connect_error');
          return this.tryOn(next);
        }
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
      const ended = this.bodyEnded && this.heldBytes === 0 && this.replayBytes === 0;
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
   * The backend for the next try when the current one, failed with `kind`, may be retried: tries left, the
   * kind enabled, the request resendable, the budget has room and another backend can be picked.
   */
  private retryable(kind: number): Lease | undefined {
    if (this.finished || this.responded || this.tries > this.target.retry.attempts) return undefined;
    const policy = this.target.retry;
    const sent = this.upstream !== undefined;
    const free = kind === K_REFUSED || kind === K_GRPC_UNAVAILABLE;
    if (!free && !retryEnabled(policy, kind)) return undefined;
    // gRPC: only what no backend processed (not sent, refused, UNAVAILABLE before any response)
    if (this.grpc && sent && !free) return undefined;
    if (sent && !this.grpc && kind !== K_REFUSED && !policy.methods.has(this.request.method)) return undefined;
    if (sent && this.bodySent > 0 && this.replay === null) return undefined;
    const budgeted = kind !== K_REFUSED && !this.budgetHeld;
    if (budgeted && !this.target.budget.tryAcquire(this.target.clock.now(), policy.budget)) return undefined;
    const next = this.pool.pick(this.target.balance, this.tried);
    if (next !== undefined) this.pickSeq = this.pool.lastPick ?? 0;
    if (next === undefined && budgeted) this.target.budget.release();
    else if (budgeted) this.budgetHeld = true;
    return next;
  }

  /** Drops the failed try's stream and sends the request again on `next`; the kept body goes first. */
  private retryOn(next: Lease, outcome: LeaseOutcome): void {
    const failed = this.lease?.backend.id ?? '';
    this.earlier = noteAttempt(this.earlier, failed, this.pickedAt, this.tConnected, this.tFirstByte, this.target.clock.now(), outcome === 'http_5xx' ? String(this.status) : outcome);
    this.clearPerTry();
    this.cancelUpstream();
    this.upstream = undefined;
    this.release(outcome);
    if (this.replay !== null && this.replay.length > 0) {
      this.held = this.replay.concat(this.held);
      this.heldBytes += this.replayBytes;
      this.replay = [];
      this.replayBytes = 0;
    }
    this.bodySent = 0;
    this.status = 0;
    this.trailers = undefined;
    this.tConnected = 0;
    this.tFirstByte = 0;
    void this.tryOn(next);
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
    this.bodySent += chunk.length;
    const replay = this.replay;
    if (replay !== null) {
      this.replayBytes += chunk.length;
      if (this.replayBytes > REPLAY_LIMIT) this.replay = null;
      else replay.push(chunk);
    }
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
    const perTry = this.target.retry.perTryTimeout;
    if (perTry >= 0 && !this.grpc && (this.target.retry.on & R_TIMEOUT) !== 0) this.perTryTimer = setTimeout(() => this.perTryTimedOut(), perTry);
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
    const kind = this.grpc ? (ended && headerOf(fields, 'grpc-status') === '14' ? K_GRPC_UNAVAILABLE : 0) : this.target.retry.statuses.includes(this.status) ? this.status : 0;
    if (kind !== 0) {
      const next = this.retryable(kind);
      if (next !== undefined) {
        // the answer is discarded unseen: the client gets the next backend's
        this.retryOn(next, 'http_5xx');
        return;
      }
    }
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
    if (!this.finished && !this.responded) {
      const next = this.retryable(code === E_REFUSED_STREAM ? K_REFUSED : R_RESET);
      if (next !== undefined) {
        this.retryOn(next, 'reset');
        return;
      }
    }
    if (!this.finished) {
      if (clean && this.responded) {
        this.settle();
        this.downstream.end(this.trailers);
      } else this.fail(502, `pool ${this.pool.name}: upstream ${this.lease?.backend.id} reset the stream (code ${code})`, 'reset');
    }
    this.release(clean && this.responded ? (this.status >= 500 ? 'http_5xx' : 'success') : 'reset');
  }

  private perTryTimedOut(): void {
    this.perTryTimer = undefined;
    if (this.finished || this.responded) return;
    const next = this.retryable(R_TIMEOUT);
    if (next !== undefined) this.retryOn(next, 'timeout');
    else this.fail(504, `pool ${this.pool.name}: upstream ${this.lease?.backend.id} sent no response head within per_try_timeout`, 'timeout');
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
    if (this.budgetHeld) {
      this.budgetHeld = false;
      this.target.budget.release();
    }
  }

  private release(outcome: LeaseOutcome): void {
    const lease = this.lease;
    this.lease = undefined;
    lease?.release(outcome);
  }
}
