// The buckets of one process: TAT per bucket name in a Map. A bucket whose TAT has passed is full, the same
// as absent, so a sweep drops those; it runs when the table has doubled since the last one, which keeps the
// cost amortised O(1) per decision and the memory proportional to the keys active within a burst's time.
import { take, type BucketPolicy, type Take } from './gcra.ts';

const minSweepAt = 4096;

export class LocalTable {
  private readonly tats = new Map<string, number>();
  private sweepAt = minSweepAt;

  /** Takes up to `want` tokens of bucket `name` at `now` (ms, this process's clock) into `out`. */
  take(name: string, now: number, want: number, policy: BucketPolicy, out: Take): Take {
    const next = take(this.tats.get(name), now, want, policy, out);
    if (out.granted > 0) {
      this.tats.set(name, next);
      if (this.tats.size >= this.sweepAt) this.sweep(now);
    }
    return out;
  }

  get size(): number {
    return this.tats.size;
  }

  private sweep(now: number): void {
    for (const [name, tat] of this.tats) if (tat <= now) this.tats.delete(name);
    this.sweepAt = Math.max(minSweepAt, this.tats.size * 2);
  }
}
