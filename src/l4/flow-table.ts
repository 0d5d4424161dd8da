// The client flows of a udp listener, least recently used first. A Map keeps insertion order, so moving a
// flow to the back on each datagram (delete + set) keeps the front the least recently used: eviction at
// max_flows takes the first entry, and the idle sweep walks from the front and stops at the first flow
// that is still active. Both are O(1) per flow they touch.

export interface TableFlow {
  /** Monotonic ms of the last datagram either way. */
  lastSeen: number;
}

export class FlowTable<F extends TableFlow> {
  private readonly flows = new Map<string, F>();

  get size(): number {
    return this.flows.size;
  }

  get(key: string): F | undefined {
    return this.flows.get(key);
  }

  /** A datagram of the flow passed: it becomes the most recently used. */
  touch(key: string, flow: F, now: number): void {
    flow.lastSeen = now;
    this.flows.delete(key);
    this.flows.set(key, flow);
  }

  add(key: string, flow: F): void {
    this.flows.set(key, flow);
  }

  delete(key: string, flow: F): void {
    // a flow replaced under the same key (failover) must not take its successor with it
    if (this.flows.get(key) === flow) this.flows.delete(key);
  }

  /** The least recently used flow, the one to evict when the table is full. */
  oldest(): [string, F] | undefined {
    for (const entry of this.flows) return entry;
    return undefined;
  }

  /** Flows idle since before `cutoff`, oldest first (taken out of the table). */
  takeIdle(cutoff: number): F[] {
    const idle: F[] = [];
    for (const [key, flow] of this.flows) {
      if (flow.lastSeen >= cutoff) break;
      this.flows.delete(key);
      idle.push(flow);
    }
    return idle;
  }

  values(): IterableIterator<F> {
    return this.flows.values();
  }

  clear(): void {
    this.flows.clear();
  }
}
