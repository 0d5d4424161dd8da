// Session resumption for https listeners: TLS session tickets (1.2 and 1.3) with keys that rotate, and
// (tls.session_cache: true) a server-side session cache for TLS 1.2 clients that resume by session id.
import { hkdfSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Server as TlsServer } from 'node:tls';
import type * as LruCacheModule from 'lru-cache';
import type { LRUCache } from 'lru-cache';
import type { Clock, TimerHandle } from '../core/index.ts';

export interface ResumptionOptions {
  /**
   * Secret the ticket keys derive from. Workers given the same seed derive the same key for the same period,
   * so a ticket issued by one worker resumes on another and all rotate together without talking to each other.
   * Default: random per process (tickets then resume only on the worker that issued them).
   */
  ticketSeed?: Buffer;
  /** Key lifetime; tickets older than one period fall back to a full handshake. */
  rotateEveryMs?: number;
  /** Session-id cache (TLS 1.2 without tickets): off unless asked, see tls.session_cache. */
  sessionCache?: boolean;
  /** Session cache size and entry lifetime (also the ticket lifetime advertised to clients). */
  cacheEntries?: number;
  sessionTimeoutSeconds?: number;
  clock: Clock;
}

/** 48 bytes (name, HMAC secret, AES key) for the period containing `now`. */
export function ticketKeysFor(seed: Buffer, periodMs: number, now: number): Buffer {
  const period = Math.floor(now / periodMs);
  return Buffer.from(hkdfSync('sha256', seed, 'switchyard-ticket-keys', `period-${period}`, 48));
}

export class SessionResumption {
  private readonly seed: Buffer;
  private readonly periodMs: number;
  private readonly cache: LRUCache<string, Buffer>;
  private readonly servers = new Set<TlsServer>();
  private timer: TimerHandle | undefined;
  readonly sessionTimeoutSeconds: number;
  private readonly clock: Clock;
  private readonly sessionCache: boolean;

  constructor(options: ResumptionOptions) {
    this.clock = options.clock;
    this.sessionCache = options.sessionCache === true;
    this.seed = options.ticketSeed ?? randomBytes(32);
    this.periodMs = options.rotateEveryMs ?? 12 * 3600 * 1000;
    this.sessionTimeoutSeconds = options.sessionTimeoutSeconds ?? 3600;
    // lru-cache is required here, not imported with the module: the primary loads src/tls (for its health
    // checks of TLS pools) but never resumes a session (docs/operations.md, "Memory")
    const { LRUCache: Cache } = createRequire(import.meta.url)('lru-cache') as typeof LruCacheModule;
    this.cache = new Cache({ max: options.cacheEntries ?? 20_000, ttl: this.sessionTimeoutSeconds * 1000 });
  }

  currentTicketKeys(): Buffer {
    return ticketKeysFor(this.seed, this.periodMs, this.clock.now());
  }

  /** Installs the current ticket keys and the session-id cache on a server; call after setSecureContext too. */
  attach(server: TlsServer): void {
    server.setTicketKeys(this.currentTicketKeys());
    if (this.servers.has(server)) return;
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
    this.schedule();
    if (!this.sessionCache) return;
    server.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
      this.cache.set(id.toString('hex'), data);
      done();
    });
    server.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
      done(null, this.cache.get(id.toString('hex')) ?? null);
    });
  }

  private schedule(): void {
    if (this.timer) return;
    const now = this.clock.now();
    const untilNext = this.periodMs - (now % this.periodMs) + 1;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      const keys = this.currentTicketKeys();
      for (const server of this.servers) server.setTicketKeys(keys);
      if (this.servers.size > 0) this.schedule();
    }, untilNext);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.servers.clear();
    this.cache.clear();
  }
}
