// Tokens that verified, remembered briefly so a client repeating its token (every API call of a session)
// skips the signature check and claim parsing. Keyed by the whole token string (the signature is in it),
// bounded in entries (LRU), each entry kept until the token's exp or cache_ttl, whichever comes first.
import { LRUCache } from 'lru-cache';
import type { JWTPayload } from 'jose';

interface Entry {
  claims: JWTPayload;
  /** env.now() milliseconds after which the entry is not used. */
  until: number;
}

export class VerifiedTokens {
  private readonly entries: LRUCache<string, Entry> | null;
  private readonly ttl: number;
  private readonly now: () => number;

  constructor(size: number, ttl: number, now: () => number) {
    this.entries = size > 0 && ttl > 0 ? new LRUCache<string, Entry>({ max: size }) : null;
    this.ttl = ttl;
    this.now = now;
  }

  /** The claims of a token verified before and still fresh, else undefined. */
  get(token: string): JWTPayload | undefined {
    if (this.entries === null) return undefined;
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (this.now() < entry.until) return entry.claims;
    this.entries.delete(token);
    return undefined;
  }

  /** Remembers a verified token; `wallNowMs` is the wall clock its exp is compared with (Date.now()). */
  set(token: string, claims: JWTPayload, wallNowMs: number): void {
    if (this.entries === null) return;
    let lifetime = this.ttl;
    if (typeof claims.exp === 'number') lifetime = Math.min(lifetime, claims.exp * 1000 - wallNowMs);
    if (lifetime <= 0) return;
    this.entries.set(token, { claims, until: this.now() + lifetime });
  }
}
