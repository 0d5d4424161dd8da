// The token bucket as GCRA (the generic cell rate algorithm): one number per key, the "theoretical arrival
// time" (TAT) at which the bucket would be full again. A bucket of capacity `burst` refilled one token per
// `interval` ms admits a request at `now` while TAT - now <= (burst - 1) × interval. One number is what
// makes the Redis script and the IPC lease cheap: no separate token count and timestamp to keep in step.

/** A compiled policy: what the stores need to decide. */
export interface BucketPolicy {
  /** ms between two tokens (period / count). */
  readonly interval: number;
  /** burst × interval: how far ahead of now the TAT may run. */
  readonly tolerance: number;
  readonly burst: number;
}

/** One decision. `granted` tokens were taken (0 = refused); times are ms from the decision. */
export interface Take {
  granted: number;
  /** Tokens left after this take. */
  remaining: number;
  /** Until the bucket is full again. */
  resetMs: number;
  /** Until the next token (0 when some are left). */
  retryMs: number;
}

export function compilePolicy(count: number, periodMs: number, burst: number): BucketPolicy {
  const interval = periodMs / count;
  return { interval, tolerance: burst * interval, burst };
}

// Floating error in (now + tolerance - tat) / interval must not cost a token that is there.
const epsilon = 1e-9;

/**
 * Takes up to `want` tokens from the bucket whose TAT is `tat` (undefined: never used, i.e. full) and
 * writes the result into `out`; returns the new TAT. Pure: the caller stores it.
 */
export function take(tat: number | undefined, now: number, want: number, policy: BucketPolicy, out: Take): number {
  const from = tat === undefined || tat < now ? now : tat;
  const available = Math.max(0, Math.floor((now + policy.tolerance - from) / policy.interval + epsilon));
  const granted = want < available ? want : available;
  const next = from + granted * policy.interval;
  out.granted = granted;
  out.remaining = available - granted;
  out.resetMs = next - now;
  out.retryMs = out.remaining > 0 ? 0 : Math.max(0, next + policy.interval - policy.tolerance - now);
  return next;
}
