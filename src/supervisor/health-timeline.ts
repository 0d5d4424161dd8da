// The dashboard's health and ejection timeline: the last N backend state changes with their time, kept
// by the primary. Health transitions come from its own checkers as they happen; ejections (outlier
// detection runs in each worker) are seen when the primary samples the pool view: a backend whose
// ejection count went up, or whose state turned `ejected` or back, since the previous sample.
import type { PoolStatus } from '../pool/index.ts';

export interface HealthEvent {
  /** Epoch ms. */
  t: number;
  pool: string;
  backend: string;
  /** healthy, unhealthy (a health check's verdict), ejected, returned (from an ejection). */
  event: 'healthy' | 'unhealthy' | 'ejected' | 'returned';
  reason: string;
}

export class HealthTimeline {
  readonly capacity: number;
  private readonly events: HealthEvent[] = [];
  /** "pool\0backend" → ejections and whether it was ejected at the previous sample. */
  private readonly seen = new Map<string, { ejections: number; ejected: boolean }>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  add(event: HealthEvent): void {
    this.events.push(event);
    if (this.events.length > this.capacity) this.events.splice(0, this.events.length - this.capacity);
  }

  /** A health checker's transition (ControlPlane.onHealth). */
  health(t: number, pool: string, backend: string, healthy: boolean, reason: string): void {
    this.add({ t, pool, backend, event: healthy ? 'healthy' : 'unhealthy', reason });
  }

  /** Compares the joined pool view with the previous sample; the first sample only sets the baseline. */
  observe(t: number, pools: readonly PoolStatus[]): void {
    const first = this.seen.size === 0;
    for (const pool of pools) {
      for (const backend of pool.backends) {
        const key = `${pool.name}\0${backend.id}`;
        const ejected = backend.state === 'ejected';
        const before = this.seen.get(key);
        this.seen.set(key, { ejections: backend.ejections, ejected });
        if (first || before === undefined) continue;
        if (backend.ejections > before.ejections) this.add({ t, pool: pool.name, backend: backend.id, event: 'ejected', reason: `${backend.ejections - before.ejections} ejection(s) by outlier detection` });
        else if (before.ejected && !ejected) this.add({ t, pool: pool.name, backend: backend.id, event: 'returned', reason: 'ejection ended' });
      }
    }
  }

  /** Newest first. */
  view(): HealthEvent[] {
    return [...this.events].reverse();
  }
}
