// Gives memory back when a worker goes idle after load.
//
// A closed TLS connection's OpenSSL state (~60 KB with its buffers) and a TCP socket's native parts are
// freed only when V8 collects the JavaScript wrapper. V8 does not know those native bytes and does not
// collect an idle heap: after a handshake flood or 5k connections a worker's heap was small again but its
// RSS stayed at 2–6× the figure before the load, until traffic came back. So when the event loop has been
// busy and then falls idle, the worker runs one memory-reducing collection (MEMORY_REDUCING_GC): freed
// native memory goes back to the allocator, which returns it to the kernel (jemalloc with
// `background_thread:true`, set by worker-runtime.ts; glibc returns what it can at its next trim), and V8
// compacts its heap and gives back the pages the burst grew it by (~20 MB of a built worker's ~75 MB after
// 5k connections: a plain gc() frees the objects but keeps those pages).
//
// Cost: one event-loop-utilization read per interval, and one collection (~50 ms on a 10 MB heap: it
// compacts, and repeats while weak callbacks free more) per busy→idle transition — never while traffic
// flows, never twice in a row without load between.
import type { Clock, TimerHandle } from '../core/index.ts';

export interface IdleCollectorOptions {
  clock: Clock;
  /** The collection to run (in workers: global.gc(MEMORY_REDUCING_GC), with --expose-gc). */
  collect: () => void;
  /** Fraction of the last interval the event loop was busy (performance.eventLoopUtilization's delta). */
  utilization: () => number;
  /** How often the load is sampled. Default 2 s. */
  intervalMs?: number;
  /** An interval at least this busy counts as load. Default 0.05. */
  busy?: number;
  /** An interval at most this busy counts as idle. Default 0.01. */
  idle?: number;
}

export class IdleCollector {
  private readonly options: Required<IdleCollectorOptions>;
  private timer: TimerHandle | undefined;
  /** Load was seen since the last collection. */
  private loaded = false;
  /** Collections run so far (a worker's admin status shows it as `idle_collections`). */
  collections = 0;

  constructor(options: IdleCollectorOptions) {
    this.options = { intervalMs: 2_000, busy: 0.05, idle: 0.01, ...options };
  }

  start(): void {
    if (this.timer) return;
    this.options.utilization(); // starts the first interval
    this.schedule();
  }

  /** One sample: called by the timer (tests call it directly). */
  sample(): void {
    const used = this.options.utilization();
    if (used >= this.options.busy) this.loaded = true;
    else if (used <= this.options.idle && this.loaded) {
      this.loaded = false;
      this.collections++;
      this.options.collect();
      // the collection's own time (tens of ms, more on a heap grown by the burst) is not load: counted in
      // the next interval it could pass `busy` and start another collection with no traffic between
      this.options.utilization();
    }
  }

  stop(): void {
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = this.options.clock.setTimeout(() => {
      this.sample();
      this.schedule();
    }, this.options.intervalMs);
    this.timer.unref?.();
  }
}

/**
 * What the idle collection asks of global.gc: a plain gc() marks and sweeps but keeps the old generation's
 * emptied pages and a new space grown to its peak; `last-resort` (V8's CollectAllAvailableGarbage) also
 * compacts, shrinks the new space and returns freed pages to the system.
 */
export const MEMORY_REDUCING_GC: NodeJS.GCOptions = { type: 'major', execution: 'sync', flavor: 'last-resort' };

/** Utilization of the event loop since the previous call (the first call measures since start-up). */
export function loopUtilization(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, last);
    last = now;
    return delta.utilization;
  };
}
