// `store: redis`: one bucket per key in Redis, shared by every Switchyard instance that names the same URL.
// Each decision is one script run (EVALSHA, EVAL when Redis lost the script: ioredis's defineCommand), the
// GCRA of gcra.ts on Redis's clock (TIME), so instances with skewed clocks still share one bucket. A key
// lives until its bucket is full again (PX), so idle keys cost Redis nothing.
// One client per URL per process (env.shared): connected on the first decision, never queueing commands
// while disconnected (enableOfflineQueue: false) and timing each one out quickly, so an unreachable Redis
// turns into on_store_error at once instead of requests piling up; ioredis reconnects in the background.
// ioredis itself is loaded on that first decision too: a worker without a Redis store never loads it.
import type { Redis } from 'ioredis';
import type { BucketPolicy, Take } from './gcra.ts';
import { StoreError, type RateStore } from './store.ts';

export const redisKeyPrefix = 'switchyard:rl:';
export const commandTimeoutMs = 100;
const connectTimeoutMs = 1000;

// KEYS[1] the bucket; ARGV interval ms, tolerance ms, want. Returns granted, remaining, ms to full, ms to the next token.
const script = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = tonumber(stored)
  if tat < now then tat = now end
end
local available = math.floor((now + tolerance - tat) / interval + 1e-9)
if available < 0 then available = 0 end
local granted = want
if available < want then granted = available end
local nextTat = tat + granted * interval
if granted > 0 then
  redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now) + 1)
end
local remaining = available - granted
local retry = 0
if remaining <= 0 then
  retry = nextTat + interval - tolerance - now
  if retry < 0 then retry = 0 end
end
return { granted, remaining, math.ceil(nextTat - now), math.ceil(retry) }
`;

type ScriptClient = Redis & { switchyardRateTake(key: string, interval: number, tolerance: number, want: number): Promise<[number, number, number, number]> };

export class RedisBuckets implements RateStore {
  readonly kind = 'redis';
  readonly url: string;
  private client: ScriptClient | null = null;
  private closed = false;
  private readonly warn: (message: string, fields?: Record<string, unknown>) => void;
  /** The first connection attempt, awaited by the decisions that arrive while it runs; 'done' after. */
  private connecting: Promise<void> | 'done' | null = null;
  private healthy = true;

  /** No I/O here: the first decision connects. */
  constructor(url: string, warn: (message: string, fields?: Record<string, unknown>) => void) {
    this.url = url;
    this.warn = warn;
  }

  private async connect(): Promise<void> {
    const { Redis } = await import('ioredis');
    if (this.closed) return;
    const client = new Redis(this.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      commandTimeout: commandTimeoutMs,
      connectTimeout: connectTimeoutMs,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    }) as ScriptClient;
    client.defineCommand('switchyardRateTake', { numberOfKeys: 1, lua: script });
    // failures reach the filter through the rejected command; the event only needs a listener
    client.on('error', () => {});
    this.client = client;
    await client.connect().catch(() => {});
  }

  async decide(name: string, policy: BucketPolicy): Promise<Take> {
    if (this.connecting !== 'done') {
      this.connecting ??= this.connect().then(
        () => void (this.connecting = 'done'),
        () => void (this.connecting = 'done'),
      );
      await this.connecting;
    }
    let reply: [number, number, number, number];
    try {
      if (this.client === null) throw new Error('closed');
      reply = await this.client.switchyardRateTake(redisKeyPrefix + name, policy.interval, policy.tolerance, 1);
    } catch (err) {
      this.transition(false, err);
      throw new StoreError(`rate_limit: redis ${this.url}: ${(err as Error).message}`);
    }
    this.transition(true);
    return { granted: Number(reply[0]), remaining: Number(reply[1]), resetMs: Number(reply[2]), retryMs: Number(reply[3]) };
  }

  /** One warn line per change between reachable and not, never one per request. */
  private transition(up: boolean, err?: unknown): void {
    if (up === this.healthy) return;
    this.healthy = up;
    if (up) this.warn('rate_limit: redis store reachable again', { url: this.url });
    else this.warn('rate_limit: redis store unreachable, applying on_store_error', { url: this.url, error: (err as Error)?.message });
  }

  close(): void {
    this.closed = true;
    this.client?.disconnect();
  }
}
