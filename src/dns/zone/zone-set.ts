// All zones served, found by longest suffix (CoreDNS's zone matching). Immutable; a reload swaps the set.
import type { Zone } from './zone.ts';

export class ZoneSet {
  readonly byOrigin: ReadonlyMap<string, Zone>;

  /** Every existing name → the zone that answers it: one lookup for the common case of a name that exists. */
  private readonly exact = new Map<string, Zone>();

  constructor(zones: readonly Zone[]) {
    this.byOrigin = new Map(zones.map((zone) => [zone.originKey, zone]));
    for (const zone of zones) {
      for (const key of zone.nodes.keys()) if (this.findBySuffix(key) === zone) this.exact.set(key, zone);
    }
  }

  find(key: string): Zone | undefined {
    return this.exact.get(key) ?? this.findBySuffix(key);
  }

  /** The zone with the longest origin that `key` lies in, or undefined. Costs one Map lookup per label. */
  private findBySuffix(key: string): Zone | undefined {
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
