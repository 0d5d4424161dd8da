// SNI selection: server name → certificate. Exact names first, then a one-label wildcard
// ("*.example.test" matches "a.example.test", not "example.test" nor "a.b.example.test", as in RFC 6125),
// then the default. Built once per (re)load; a lookup is one or two Map gets.
import type { SecureContext } from 'node:tls';

export interface SniEntry {
  /** Lower-case names without a trailing dot; "*.suffix" for a wildcard. */
  hosts: readonly string[];
  context: SecureContext;
  /** Label for logs and status: the certificate file. */
  name: string;
}

export class SniTable {
  private readonly exact = new Map<string, SniEntry>();
  /** ".suffix" of a wildcard → entry. */
  private readonly wildcard = new Map<string, SniEntry>();
  readonly defaultEntry: SniEntry;

  /** The first entry that claims a name wins (config order), like the first matching route. */
  constructor(entries: readonly SniEntry[], defaultEntry: SniEntry) {
    for (const entry of entries) {
      for (const host of entry.hosts) {
        if (host.startsWith('*.')) {
          if (!this.wildcard.has(host.slice(1))) this.wildcard.set(host.slice(1), entry);
        } else if (!this.exact.has(host)) {
          this.exact.set(host, entry);
        }
      }
    }
    this.defaultEntry = defaultEntry;
  }

  /** The entry for a client's server name; the default when nothing matches or no name was sent. */
  lookup(servername: string | undefined): SniEntry {
    if (!servername) return this.defaultEntry;
    let name = servername.toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
    const exact = this.exact.get(name);
    if (exact) return exact;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const wildcard = this.wildcard.get(name.slice(dot));
      if (wildcard) return wildcard;
    }
    return this.defaultEntry;
  }
}
