// Rapid-reset guard (CVE-2023-44487): a client that opens streams and cancels them at once makes the
// server start work it never finishes, at no cost to itself. Each session counts the streams its client
// resets in the current one-second window; past the limit the session is cut with GOAWAY(ENHANCE_YOUR_CALM).
// The codec budgets decoded header bytes per connection the same way (an HPACK bomb, connection.ts).
import type { Clock } from '../core/index.ts';

/** Counts hits in one-second windows against a limit per second. */
export class ResetCounter {
  private windowStart = 0;
  private count = 0;
  private readonly limit: number;
  private readonly clock: Clock;

  constructor(limitPerSecond: number, clock: Clock) {
    this.limit = limitPerSecond;
    this.clock = clock;
  }

  /** Counts `amount` (one client reset by default); true when the budget of this second is gone. */
  hit(amount = 1): boolean {
    this.roll();
    this.count += amount;
    return this.count > this.limit;
  }

  /**
   * Counts `amount` in the window the last left() or hit() rolled to, without reading the clock again (a
   * caller that asked left() just before, in the same call).
   */
  spend(amount: number): void {
    this.count += amount;
  }

  /** What is left of this second's budget. */
  left(): number {
    this.roll();
    return this.limit - this.count;
  }

  private roll(): void {
    const now = this.clock.monotonic();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.count = 0;
    }
  }
}
