// `store: local` across the workers of one instance. The primary holds every bucket (LeaseServer, one
// LocalTable on the primary's clock); a worker leases tokens from it in small batches over the cluster IPC
// channel and spends them locally (LeaseClient). A token is taken from the primary's bucket before any
// worker spends it, so the instance never admits more than the budget; tokens a worker leased and has not
// spent yet are the error the other way, at most (workers - 1) × (batch - 1) per key, where the batch is
// ceil(burst / 16) capped at 64 (burst 20: batch 2, at most one token short per other worker).
// A refusal from the primary is remembered until its next token is due, so a flood on one key costs one
// IPC round trip per token interval, not one per request.
import type { BucketPolicy, Take } from './gcra.ts';
import { LocalTable } from './local-table.ts';
import { StoreError, type RateStore } from './store.ts';

export interface RateLeaseRequest {
  type: 'rate_lease';
  id: number;
  bucket: string;
  interval: number;
  tolerance: number;
  burst: number;
  want: number;
}

export interface RateLeaseReply {
  type: 'rate_lease_reply';
  id: number;
  granted: number;
  remaining: number;
  resetMs: number;
  retryMs: number;
}

/** The primary's side: answers leases from one table on its own clock (ms durations go back, not times). */
export class LeaseServer {
  private readonly table = new LocalTable();
  private readonly now: () => number;
  private readonly out: Take = { granted: 0, remaining: 0, resetMs: 0, retryMs: 0 };

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
  }

  answer(request: RateLeaseRequest): RateLeaseReply {
    const policy: BucketPolicy = { interval: request.interval, tolerance: request.tolerance, burst: request.burst };
    const want = Math.max(1, Math.min(64, Math.floor(request.want)));
    const out = this.table.take(request.bucket, this.now(), want, policy, this.out);
    return { type: 'rate_lease_reply', id: request.id, granted: out.granted, remaining: out.remaining, resetMs: out.resetMs, retryMs: out.retryMs };
  }

  /** Tells a lease request from the other messages a worker sends. */
  static is(message: unknown): message is RateLeaseRequest {
    return (message as { type?: unknown } | null)?.type === 'rate_lease';
  }
}

/** The channel to the primary (process.send / process.on('message') in a worker; a pair in tests). */
export interface LeaseChannel {
  send(request: RateLeaseRequest): void;
  onReply(listener: (reply: RateLeaseReply) => void): void;
}

interface Lease {
  tokens: number;
  /** The primary's remaining tokens at the last grant (for the RateLimit field). */
  remaining: number;
  /** Local clock: when the primary's bucket is full again / when its next token is due after a refusal. */
  resetAt: number;
  deniedUntil: number;
  pending: Promise<void> | null;
  usedAt: number;
}

const replyTimeoutMs = 250;
const idleLeaseMs = 60_000;

export function leaseBatch(burst: number): number {
  return Math.max(1, Math.min(64, Math.ceil(burst / 16)));
}

export class LeaseClient implements RateStore {
  readonly kind = 'local';
  private readonly channel: LeaseChannel;
  private readonly now: () => number;
  private readonly leases = new Map<string, Lease>();
  private readonly waiting = new Map<number, { resolve: (reply: RateLeaseReply) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  private nextId = 1;
  private sweepAt = 4096;
  private readonly out: Take = { granted: 0, remaining: 0, resetMs: 0, retryMs: 0 };

  constructor(channel: LeaseChannel, now: () => number) {
    this.channel = channel;
    this.now = now;
    channel.onReply((reply) => {
      const waiter = this.waiting.get(reply.id);
      if (waiter === undefined) return;
      this.waiting.delete(reply.id);
      clearTimeout(waiter.timer);
      waiter.resolve(reply);
    });
  }

  decide(name: string, policy: BucketPolicy): Take | Promise<Take> {
    const now = this.now();
    let lease = this.leases.get(name);
    if (lease === undefined) {
      lease = { tokens: 0, remaining: 0, resetAt: now, deniedUntil: 0, pending: null, usedAt: now };
      this.leases.set(name, lease);
      if (this.leases.size >= this.sweepAt) this.sweep(now);
    }
    lease.usedAt = now;
    const answered = this.spend(lease, now);
    if (answered !== undefined) return answered;
    const current = lease;
    current.pending ??= this.lease(name, policy, current);
    // a copy: the reused answer object may be rewritten by another waiter before this one's caller reads it
    return current.pending.then(() => {
      const decided = this.decide(name, policy);
      return decided instanceof Promise ? decided : { ...decided };
    });
  }

  /** A local answer when the lease has a token or a fresh refusal; undefined when the primary must be asked. */
  private spend(lease: Lease, now: number): Take | undefined {
    const out = this.out;
    if (lease.tokens >= 1) {
      lease.tokens--;
      out.granted = 1;
      out.remaining = lease.tokens + lease.remaining;
      out.resetMs = Math.max(0, lease.resetAt - now);
      out.retryMs = 0;
      return out;
    }
    if (now < lease.deniedUntil) {
      out.granted = 0;
      out.remaining = 0;
      out.retryMs = lease.deniedUntil - now;
      out.resetMs = Math.max(out.retryMs, lease.resetAt - now);
      return out;
    }
    return undefined;
  }

  private lease(name: string, policy: BucketPolicy, lease: Lease): Promise<void> {
    const id = this.nextId++;
    const reply = new Promise<RateLeaseReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new StoreError(`rate_limit: the primary did not answer a token lease within ${replyTimeoutMs}ms`));
      }, replyTimeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
    });
    try {
      this.channel.send({ type: 'rate_lease', id, bucket: name, interval: policy.interval, tolerance: policy.tolerance, burst: policy.burst, want: leaseBatch(policy.burst) });
    } catch (err) {
      const waiter = this.waiting.get(id);
      this.waiting.delete(id);
      if (waiter !== undefined) clearTimeout(waiter.timer);
      lease.pending = null;
      return Promise.reject(new StoreError(`rate_limit: cannot reach the primary: ${(err as Error).message}`));
    }
    return reply.then(
      (answer) => {
        const now = this.now();
        lease.pending = null;
        lease.tokens += answer.granted;
        lease.remaining = answer.remaining;
        lease.resetAt = now + answer.resetMs;
        // at least 1 ms: a refusal must hold until the primary's next token, never loop on the spot
        lease.deniedUntil = answer.granted > 0 ? 0 : now + Math.max(1, answer.retryMs);
      },
      (err: unknown) => {
        lease.pending = null;
        throw err;
      },
    );
  }

  /** Leases unused for a minute go (their unspent tokens with them: under-admission only, never over). */
  private sweep(now: number): void {
    for (const [name, lease] of this.leases) if (lease.pending === null && now - lease.usedAt > idleLeaseMs) this.leases.delete(name);
    this.sweepAt = Math.max(4096, this.leases.size * 2);
  }

  close(): void {
    for (const waiter of this.waiting.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new StoreError('rate_limit: closed'));
    }
    this.waiting.clear();
  }
}
