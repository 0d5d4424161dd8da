// What both HTTP/2 frontends (the codec's and node:http2's) do with their connections as a whole: find the
// idle ones with a periodic sweep, instead of a timer per connection refreshed on every frame (node:http2's
// session timer cost ~3 % of a request's CPU), and drain them all before a deadline.
import type { Clock, TimerHandle } from '../core/index.ts';

/** How often idle connections are looked for: a quarter of the idle timeout, between 50 ms and 1 s. */
function idleSweepPeriod(idleMs: number): number {
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

/**
 * Drain: starts `closeGracefully` on every connection (it calls `closed` once the connection is gone) and
 * waits until all have closed or `deadline` (clock.now() scale) has passed; the caller destroys the rest.
 */
export async function closedOrDeadline<T>(connections: Iterable<T>, closeGracefully: (connection: T, closed: () => void) => void, deadline: number, clock: Clock): Promise<void> {
  const closing = [...connections].map((connection) => new Promise<void>((resolve) => closeGracefully(connection, resolve)));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - clock.now()))));
  await Promise.race([Promise.all(closing), expired]);
  clearTimeout(timer);
}
