// Per-request filter state (FilterContext.stash/stashed): a pair of short arrays keyed by the filter object,
// allocated only when a filter stashes something. A chain holds a handful of filters, so a linear scan
// beats a Map here.
import type { HttpFilter } from './types.ts';

export class FilterSlots {
  private readonly keys: HttpFilter[] = [];
  private readonly values: unknown[] = [];

  set(filter: HttpFilter, value: unknown): void {
    const at = this.keys.indexOf(filter);
    if (at >= 0) this.values[at] = value;
    else {
      this.keys.push(filter);
      this.values.push(value);
    }
  }

  get(filter: HttpFilter): unknown {
    const at = this.keys.indexOf(filter);
    return at >= 0 ? this.values[at] : undefined;
  }
}

/** A verdict that is still to come (an async request filter). */
export function isPending<T>(value: T | Promise<T>): value is Promise<T> {
  return value !== undefined && value !== null && typeof (value as Promise<T>).then === 'function';
}
