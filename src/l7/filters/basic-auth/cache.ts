// Verified and refused credentials, remembered briefly so a client sending the same Authorization on every
// request costs one password hash (bcrypt: ~50–100 ms of CPU) per TTL, not one per request. Keys are
// SHA-256 digests of the credentials, so the cache holds no password. A Map in insertion order is the LRU:
// a hit moves the entry to the end; past `capacity` the oldest goes.
import { createHash } from 'node:crypto';

export function credentialKey(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

export class VerdictCache {
  private readonly entries = new Map<string, { ok: boolean; until: number }>();
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** true / false when a fresh verdict is cached, undefined otherwise. */
  get(key: string, now: number): boolean | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.until <= now) return undefined;
    this.entries.set(key, entry);
    return entry.ok;
  }

  set(key: string, ok: boolean, until: number): void {
    this.entries.delete(key);
    this.entries.set(key, { ok, until });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
