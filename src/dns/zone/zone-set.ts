// All zones served, found by longest suffix (CoreDNS's zone matching). Immutable; a reload swaps the set.
import type { Zone } from './zone.ts';

export class ZoneSet {
  readonly byOrigin: ReadonlyMap<string, Zone>;

  constructor(zones: readonly Zone[]) {
    this.byOrigin = new Map(zones.map((zone) => [zone.originKey, zone]));
  }

  /** The zone with the longest origin that `key` lies in, or undefined. Costs one Map lookup per label. */
  find(key: string): Zone | undefined {
    const zones = this.byOrigin;
    if (zones.size === 0) return undefined;
    let i = 0;
    for (;;) {
      const zone = zones.get(i === 0 ? key : key.slice(i));
      if (zone !== undefined) return zone;
      if (i >= key.length) return undefined;
      i += key.charCodeAt(i) + 1;
    }
  }
}
