// Upstream latency of the resolver, as a histogram of plain numbers: bumped per answered upstream query,
// read by status() (and the primary's /metrics). Failed and timed-out queries are not observed: their
// "latency" is the timeout, and the upstream query counter already shows them.
export const latencyBounds: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class LatencyHistogram {
  /** Per bucket (not cumulative); latencyBounds.length + 1 entries, the last one for +Inf. */
  readonly counts: number[] = new Array<number>(latencyBounds.length + 1).fill(0);
  sum = 0;

  observe(seconds: number): void {
    let bucket = 0;
    while (bucket < latencyBounds.length && seconds > latencyBounds[bucket]) bucket++;
    this.counts[bucket]++;
    this.sum += seconds;
  }

  snapshot(): { bounds: readonly number[]; counts: number[]; sum: number } {
    return { bounds: latencyBounds, counts: [...this.counts], sum: this.sum };
  }
}

/** Times one upstream query into `histogram` when it answers. */
export async function timed<T>(histogram: LatencyHistogram, query: Promise<T>): Promise<T> {
  const started = performance.now();
  const answer = await query;
  histogram.observe((performance.now() - started) / 1000);
  return answer;
}
