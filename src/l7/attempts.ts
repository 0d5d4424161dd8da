// The upstream-attempt core: one request's tries against its pool, the same object on every path that
// proxies to a pool (the HTTP/1.1 exchange, the HTTP/2 → HTTP/1.1 bridge, the HTTP/2 and gRPC upstream in
// src/h2). It owns what the pool's `retries:` decides and what the tries leave behind: the current lease
// (released with the try's outcome, which passive ejection counts), the backends that failed, the retry
// budget's hold, the body bytes kept for a resend, the keep-alive race's one free resend, and the earlier
// tries the waterfall shows. The paths keep the transport: how to connect, what "sent" means on their wire,
// how to write the kept body again; they call in at each failure and act on the verdict.
//
// A failure is retried on another backend only while nothing of the response reached the client (the
// path's precondition) and when all of these hold: tries left (`attempts`), the kind enabled by `on`
// (connect_error, reset, timeout, or a status), the request can be sent again — nothing reached this try's
// upstream, or the method is in `methods` and every body byte sent is kept (at most REPLAY_LIMIT) —, the
// pool's budget has room, and the balancer finds a backend not tried yet. gRPC calls go again only when no
// backend processed them (not sent, REFUSED_STREAM, or UNAVAILABLE before any response header).
import type { BalanceInput, Lease, LeaseOutcome } from '../pool/index.ts';
import type { EarlierAttempt, UpstreamPool } from './types.ts';
import { NO_RETRY, REPLAY_LIMIT, R_TIMEOUT, retryEnabled, type RetryBudget, type RetryPolicy } from './retry-policy.ts';

// Failure kinds besides retry-policy.ts's R_* bits and statuses; both are retried without `on`.
/** HTTP/2 REFUSED_STREAM (or a stream excluded by GOAWAY): the backend did no work, so no budget either. */
export const K_REFUSED = -1;
/** A gRPC trailers-only UNAVAILABLE before any response header (within the budget). */
export const K_GRPC_UNAVAILABLE = -2;

/** The failed try's timings for the waterfall (monotonic ms; 0 where the phase did not happen). */
export interface TryTimes {
  readonly tConnected: number;
  readonly tFirstByte: number;
}

/** begin() flags: a gRPC call (its own retry-safety rule; no per_try_timeout) ... */
export const ATTEMPT_GRPC = 1;
/** ... and a path that resends on a fresh connection after the keep-alive race (HTTP/1.1 upstreams). */
export const ATTEMPT_KEEPALIVE_RACE = 2;

export class Attempts {
  private policy: RetryPolicy = NO_RETRY;
  private budget: RetryBudget | null = null;
  private pool: UpstreamPool | null = null;
  private input: BalanceInput | null = null;
  private method = '';
  private grpc = false;
  private currentLease: Lease | null = null;
  private backendId = '';
  private count = 0;
  private stale = 0;
  private failed: Set<string> | null = null;
  private notes: EarlierAttempt[] | null = null;
  private why = '';
  private pickedAt = 0;
  private seq = 0;
  private budgetHeld = false;
  /** Body chunks written to the current try's upstream, kept for a resend; null when none can be. */
  private replay: Buffer[] | null = null;
  private replayBytes = 0;
  /** False once a body byte reached an upstream without a kept copy: the request cannot go again. */
  private replayable = true;

  /** Back to a new request's state (an object reused per connection); what the last one handed out (tried, earlier) is not touched. */
  reset(): void {
    this.policy = NO_RETRY;
    this.budget = null;
    this.pool = null;
    this.input = null;
    this.method = '';
    this.grpc = false;
    this.currentLease = null;
    this.backendId = '';
    this.count = 0;
    this.stale = 0;
    this.failed = null;
    this.notes = null;
    this.why = '';
    this.pickedAt = 0;
    this.seq = 0;
    this.budgetHeld = false;
    this.replay = null;
    this.replayBytes = 0;
    this.replayable = true;
  }

  /** The current try's lease (null before a pick and once released). */
  get lease(): Lease | null {
    return this.currentLease;
  }
  /** The current (or last) try's backend id; '' when no try started. */
  get backend(): string {
    return this.backendId;
  }
  /** Tries started: picks, plus resends on a fresh connection after the keep-alive race. */
  get tries(): number {
    return this.count;
  }
  /** Resends on a fresh connection to the same backend (the keep-alive race). */
  get staleResends(): number {
    return this.stale;
  }
  /** Backends whose try failed, in order (the access log's `tried`); null until a retry. */
  get tried(): ReadonlySet<string> | null {
    return this.failed;
  }
  /** Tries before the current one, for the waterfall; null until a retry. */
  get earlier(): EarlierAttempt[] | null {
    return this.notes;
  }
  /** Why the current try is a retry: the kind (connect_error, reset, timeout) or the status; '' on the first. */
  get reason(): string {
    return this.why;
  }
  /** When the current try picked its backend (its connect starts then); 0 before. */
  get tPick(): number {
    return this.pickedAt;
  }
  /** The last pick's number in its pool's log (UpstreamPool.lastPick); 0 before a pick. */
  get pickSeq(): number {
    return this.seq;
  }
  /** `per_try_timeout` applies (with `on: timeout`): ms a try waits for its response head, else -1. gRPC calls keep their own deadline. */
  get perTry(): number {
    const perTry = this.policy.perTryTimeout;
    return perTry >= 0 && !this.grpc && (this.policy.on & R_TIMEOUT) !== 0 ? perTry : -1;
  }

  /**
   * The request is going to `pool` (after its request filters): the policy and budget its tries follow.
   * `bodyLength`: 0 without a body, -1 when its length is unknown. `flags`: ATTEMPT_* bits. Counts the
   * request in the budget's window when the pool retries at all.
   */
  begin(pool: UpstreamPool, input: BalanceInput, policy: RetryPolicy, budget: RetryBudget | null, now: number, method: string, bodyLength: number, flags: number): void {
    this.pool = pool;
    this.input = input;
    this.policy = policy;
    this.budget = budget;
    this.method = method;
    this.grpc = (flags & ATTEMPT_GRPC) !== 0;
    if (policy.attempts > 0) budget?.request(now);
    // a body is kept only when a resend could use it: a method that may go again (any gRPC call, for UNAVAILABLE) whose body can fit
    const resends = policy.attempts > 0 || (flags & ATTEMPT_KEEPALIVE_RACE) !== 0;
    if (bodyLength !== 0 && resends && bodyLength <= REPLAY_LIMIT && (this.grpc || policy.methods.has(method))) this.replay = [];
  }

  /** "pick upstream" for the first try; undefined when no backend is usable. */
  pick(): Lease | undefined {
    const pool = this.pool!;
    const lease = pool.pick(this.input!, this.failed ?? undefined);
    this.seq = pool.lastPick ?? 0;
    return lease;
  }

  /** A try starts on `lease` at `now` (a pick's, a retry's, or the keep-alive race's resend). */
  start(lease: Lease, now: number): void {
    this.currentLease = lease;
    this.backendId = lease.backend.id;
    this.count++;
    this.pickedAt = now;
  }

  /** Whether `retries.on` lists this upstream status (its response is then discarded when a retry can go). */
  retriesOn(status: number): boolean {
    const statuses = this.policy.statuses;
    return statuses.length !== 0 && statuses.includes(status);
  }

  /** How long a try waits for the response head: `whole` (upstream_response), or per_try_timeout when shorter. */
  tryTimeout(whole: number): number {
    const perTry = this.perTry;
    return perTry >= 0 && perTry < whole ? perTry : whole;
  }

  // ---- the body kept for a resend ----

  /** A body chunk written to the current try's upstream (the path's own copy, never a view of a reused buffer). */
  keep(chunk: Buffer): void {
    const replay = this.replay;
    if (replay === null) {
      this.replayable = false;
      return;
    }
    this.replayBytes += chunk.length;
    if (this.replayBytes > REPLAY_LIMIT) {
      this.replay = null;
      this.replayable = false;
      return;
    }
    replay.push(chunk);
  }

  /** Body bytes buf[s, e) written upstream straight from a reused read buffer: copied only while kept. */
  keepRange(buf: Buffer, s: number, e: number): void {
    if (e <= s) return;
    if (this.replay === null) {
      this.replayable = false;
      return;
    }
    const chunk = Buffer.allocUnsafe(e - s);
    buf.copy(chunk, 0, s, e);
    this.keep(chunk);
  }

  /**
   * The body the failed try had sent, in order, for the next try to write first (each chunk goes through
   * keep() again as it is written); null when it sent none.
   */
  takeResend(): Buffer[] | null {
    const replay = this.replay;
    if (replay === null || replay.length === 0) return null;
    this.replay = [];
    this.replayBytes = 0;
    return replay;
  }

  // ---- the retry decision ----

  /** Whether the request can be written again: nothing sent on this try, or a method that may go again with every body byte kept. */
  private resendable(kind: number, sent: boolean): boolean {
    if (!sent) return true;
    if (this.grpc) return kind < 0 && this.replayable;
    return (kind === K_REFUSED || this.policy.methods.has(this.method)) && this.replayable;
  }

  /**
   * The current try failed with `kind` (an R_* bit, a status, or a K_* kind) and `sent` says whether any of
   * the request reached its upstream. Returns the next try's lease on another backend — the failed one is
   * released with `outcome`, its backend noted in `tried` and its times in `earlier` — or undefined when the
   * failure stands (the lease is still held: the path answers and ends it). The caller checked that nothing
   * of the response reached the client.
   */
  retry(kind: number, outcome: LeaseOutcome, sent: boolean, now: number, times: TryTimes): Lease | undefined {
    const failed = this.currentLease;
    const pool = this.pool;
    if (failed === null || pool === null) return undefined;
    const policy = this.policy;
    if (this.count - this.stale > policy.attempts) return undefined;
    if (kind >= 0 && !retryEnabled(policy, kind)) return undefined;
    if (!this.resendable(kind, sent)) return undefined;
    const budget = this.budget;
    const budgeted = kind !== K_REFUSED && !this.budgetHeld;
    if (budgeted && (budget === null || !budget.tryAcquire(now, policy.budget))) return undefined;
    const tried = (this.failed ??= new Set());
    tried.add(failed.backend.id);
    const next = pool.pick(this.input!, tried);
    if (next === undefined) {
      // a retry that finds no backend leaves the waterfall's pick row on the try that answered
      if (budgeted) budget!.release();
      return undefined;
    }
    if (budgeted) this.budgetHeld = true;
    this.seq = pool.lastPick ?? 0;
    if (budget !== null) budget.retries++;
    this.why = kind >= 100 ? String(kind) : kind === K_GRPC_UNAVAILABLE ? 'grpc_unavailable' : outcome;
    this.notes = noteAttempt(this.notes, failed.backend.id, this.pickedAt, times.tConnected, times.tFirstByte, now, this.why);
    this.currentLease = null;
    failed.release(outcome);
    return next;
  }

  /**
   * The keep-alive race: a reused connection that the upstream closed just as the request was written to it
   * (EOF or reset before any response byte). An idempotent request whose sent body is kept goes once more,
   * on a fresh connection to the same backend: it needs neither `on: reset` nor the budget, since the
   * backend did nothing wrong. Returns the lease to connect again (still held), or undefined.
   */
  resendFresh(sent: boolean, reused: boolean, now: number, times: TryTimes): Lease | undefined {
    const lease = this.currentLease;
    if (lease === null || !sent || !reused || this.stale >= 1 || times.tFirstByte !== 0) return undefined;
    if (!this.policy.methods.has(this.method) || !this.replayable) return undefined;
    this.stale++;
    this.notes = noteAttempt(this.notes, lease.backend.id, this.pickedAt, times.tConnected, times.tFirstByte, now, 'keepalive_race');
    return lease;
  }

  /**
   * A stream the backend refused (REFUSED_STREAM, or above a GOAWAY's last stream id: RFC 9113 §8.7, it did
   * no work) when no other backend takes it: once more on the same backend — on a new connection after a
   * GOAWAY, as a server at its maximum connection age expects —, whatever the method, needing neither `on`,
   * the budget nor a try of `attempts`. The body must have been kept whole. Returns the lease (still held).
   */
  resendRefused(sent: boolean, now: number, times: TryTimes): Lease | undefined {
    const lease = this.currentLease;
    if (lease === null || this.stale >= 1 || (sent && !this.replayable)) return undefined;
    this.stale++;
    this.notes = noteAttempt(this.notes, lease.backend.id, this.pickedAt, times.tConnected, times.tFirstByte, now, 'refused');
    return lease;
  }

  // ---- endings ----

  /** The current try's lease ends with `outcome` (passive ejection counts it); nothing when none is held. */
  release(outcome: LeaseOutcome): void {
    const lease = this.currentLease;
    this.currentLease = null;
    lease?.release(outcome);
  }

  /** The try never reached its backend (its connection queue was full): the lease ends unseen by the log. */
  abandon(): void {
    this.release('cancelled');
    this.backendId = '';
  }

  /** The request is over for the client: no more tries, the budget's retry goes back. */
  settle(): void {
    if (!this.budgetHeld) return;
    this.budgetHeld = false;
    this.budget?.release();
  }

  /** The exchange ended with `outcome` and answered `status`: the lease (a 5xx answer counts as http_5xx) and the budget's hold end. */
  end(outcome: LeaseOutcome, status: number): void {
    if (this.currentLease !== null) this.release(outcome === 'success' && status >= 500 ? 'http_5xx' : outcome);
    this.settle();
  }
}

/** Appends a failed try to `list` (made on the first retry: requests that are not retried allocate nothing). */
function noteAttempt(list: EarlierAttempt[] | null, backend: string, tPick: number, tConnected: number, tFirstByte: number, tEnd: number, outcome: string): EarlierAttempt[] {
  const out = list ?? [];
  out.push({ backend, tPick, tConnected, tFirstByte, tEnd, outcome });
  return out;
}
