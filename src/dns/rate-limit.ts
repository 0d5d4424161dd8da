// Response rate limiting per client prefix (`dns.rate_limit`): a token bucket of `responses_per_second`
// (burst one second's worth) per /24 (IPv4) or /56 (IPv6). Over the limit, every `slip`-th response goes
// out truncated (TC, no data: smaller than the query, and a real client retries over TCP, which a spoofed
// victim cannot) and the rest are dropped. Only UDP is limited: TCP proves the source address.
import ipaddr from 'ipaddr.js';
import type { Clock } from '../core/index.ts';

export interface RateLimitConfig {
  responses_per_second: number;
  slip: number;
  ipv4_prefix: number;
  ipv6_prefix: number;
}

export type RateVerdict = 'send' | 'slip' | 'drop';

interface Bucket {
  tokens: number;
  updated: number;
  limited: number;
}

/** Most prefixes tracked at once; beyond it the oldest half is forgotten (they refill to full anyway). */
const MAX_BUCKETS = 100_000;

export class ResponseRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly config: RateLimitConfig;
  private readonly clock: Clock;
  limitedTotal = 0;

  constructor(config: RateLimitConfig, clock: Clock) {
    this.config = config;
    this.clock = clock;
  }

  check(address: string): RateVerdict {
    const prefix = this.prefixOf(address);
    const now = this.clock.monotonic();
    const rate = this.config.responses_per_second;
    let bucket = this.buckets.get(prefix);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) this.forgetOldest();
      bucket = { tokens: rate, updated: now, limited: 0 };
      this.buckets.set(prefix, bucket);
    } else {
      bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.updated) / 1000) * rate);
      bucket.updated = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'send';
    }
    this.limitedTotal++;
    bucket.limited++;
    const slip = this.config.slip;
    return slip > 0 && bucket.limited % slip === 0 ? 'slip' : 'drop';
  }

  get trackedPrefixes(): number {
    return this.buckets.size;
  }

  private forgetOldest(): void {
    let remove = this.buckets.size >> 1;
    for (const key of this.buckets.keys()) {
      if (remove-- <= 0) break;
      this.buckets.delete(key);
    }
  }

  private prefixOf(address: string): string {
    // whole addresses (the resolver's per-client limit): the address is its own key, no parsing per query
    if (this.config.ipv4_prefix === 32 && this.config.ipv6_prefix === 128) return address;
    try {
      const parsed = ipaddr.process(address);
      const bits = parsed.kind() === 'ipv4' ? this.config.ipv4_prefix : this.config.ipv6_prefix;
      const bytes = parsed.toByteArray();
      for (let i = 0; i < bytes.length; i++) {
        const keep = Math.max(0, Math.min(8, bits - i * 8));
        bytes[i] &= (0xff << (8 - keep)) & 0xff;
      }
      return `${parsed.kind()}/${bytes.join('.')}`;
    } catch {
      return address;
    }
  }
}
