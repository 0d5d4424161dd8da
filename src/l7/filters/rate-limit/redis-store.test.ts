// The Redis store against the real Redis (127.0.0.1:6379): two clients (as two instances would) share one
// bucket through the script; an unreachable Redis is a StoreError at once, warned once per transition.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { compilePolicy } from './gcra.ts';
import { RedisBuckets, redisKeyPrefix } from './redis-store.ts';
import { StoreError } from './store.ts';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('redis store', () => {
  const warnings: string[] = [];
  const a = new RedisBuckets(url, (message) => warnings.push(message));
  const b = new RedisBuckets(url, (message) => warnings.push(message));
  after(() => {
    a.close();
    b.close();
  });

  it('two clients share one bucket: burst admitted once, then refused with the time to the next token', async () => {
    const bucket = `test-${randomUUID()}:ip:192.0.2.7`;
    const policy = compilePolicy(1, 60_000, 10);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).decide(bucket, policy)));
    assert.equal(results.filter((result) => result.granted === 1).length, 10);
    const refused = results.find((result) => result.granted === 0)!;
    assert.ok(refused.retryMs > 50_000 && refused.retryMs <= 60_000, `retry ${refused.retryMs}`);
    assert.deepEqual(warnings, []);
  });

  it('keys expire when their bucket is full again', async () => {
    const bucket = `test-${randomUUID()}:route:`;
    await a.decide(bucket, compilePolicy(10, 1000, 5));
    const probe = new Redis(url);
    // the script's key: PX = time until full (100 ms per token used) + 1
    const ttl = await probe.pttl(redisKeyPrefix + bucket);
    probe.disconnect();
    assert.ok(ttl > 0 && ttl <= 101, `pttl ${ttl}`);
  });

  it('an unreachable Redis: a StoreError within the connect timeout, one warning per transition', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down: string[] = [];
    const store = new RedisBuckets(`redis://127.0.0.1:${port}`, (message) => down.push(message));
    const policy = compilePolicy(1, 1000, 1);
    const started = performance.now();
    for (let i = 0; i < 5; i++) await assert.rejects(store.decide('k', policy), StoreError);
    assert.ok(performance.now() - started < 1500, 'fails fast');
    assert.equal(down.length, 1);
    store.close();
  });
});
