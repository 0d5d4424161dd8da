// Rapid-reset guard (CVE-2023-44487): a client that opens streams and cancels them at once makes the
// server start work it never finishes, at no cost to itself. Each session counts the streams its client
// resets in the current one-second window; past the limit the session is cut with GOAWAY(ENHANCE_YOUR_CALM).
import type { Clock } from '../core/index.ts';

export class ResetCounter {
  private windowStart = 0;
  private count = 0;
  private readonly limit: number;
  private readonly clock: Clock;

  constructor(limitPerSecond: number, clock: Clock) {
    this.limit = limitPerSecond;
    this.clock = clock;
  }

  /** Counts one client reset; true when the session has gone over its budget for this second. */
  hit(): boolean {
    const now = this.clock.monotonic();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count++;
    return this.count > this.limit;
  }
}
