// Idle HTTP/2 connections are found by a periodic sweep, shared by both frontends, instead of a timer per
// connection refreshed on every frame (node:http2's session timer cost ~3 % of a request's CPU).
import type { Clock, TimerHandle } from '../core/index.ts';

/** How often idle connections are looked for: a quarter of the idle timeout, between 50 ms and 1 s. */
export function idleSweepPeriod(idleMs: number): number {
  return Math.min(1000, Math.max(50, Math.floor(idleMs / 4)));
}

export class IdleSweep {
  private timer: TimerHandle | null = null;
  private readonly clock: Clock;
  private readonly idleMs: () => number;
  /** Closes what has been idle for `idleMs` at `now`; returns whether anything is left to watch. */
  private readonly sweepOnce: (now: number, idleMs: number) => boolean;

  constructor(clock: Clock, idleMs: () => number, sweepOnce: (now: number, idleMs: number) => boolean) {
    this.clock = clock;
    this.idleMs = idleMs;
    this.sweepOnce = sweepOnce;
  }

  /** Makes sure a sweep is due (call when a connection opens). */
  schedule(): void {
    if (this.timer !== null) return;
    this.timer = this.clock.setTimeout(() => this.run(), idleSweepPeriod(this.idleMs()));
    this.timer.unref?.();
  }

  private run(): void {
    this.timer = null;
    const idle = this.idleMs();
    if (this.sweepOnce(this.clock.monotonic(), idle)) this.schedule();
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
