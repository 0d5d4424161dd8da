// The answer cache: TTLs count down with the (fake) clock, negative entries live for the negative TTL,
// serve-stale keeps expired entries for its window, and 100k entries fit in 100 MB (measured).
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { FakeClock } from '../../core/index.ts';
import { RRClass, RRType } from '../wire/constants.ts';
import { keyOf, nameToWire } from '../wire/name.ts';
import { AnswerCache, cachedRecords } from './cache.ts';

const config = { max_entries: 100_000, min_ttl: 0, max_ttl: 86_400 };

function a(name: string, ttl: number, last = 1) {
  return { owner: nameToWire(name), type: RRType.A, class: RRClass.IN, ttl, rdata: Buffer.from([192, 0, 2, last]) };
}

describe('AnswerCache', () => {
  it('counts TTLs down with the clock and expires entries', () => {
    const clock = new FakeClock();
    const cache = new AnswerCache(config, clock);
    const key = keyOf(nameToWire('www.example.test.'));
    cache.set(key, RRType.A, 0, [a('www.example.test.', 100)], []);
    clock.advance(42_500);
    const hit = cache.get(key, RRType.A)!;
    assert.equal(hit.age, 42);
    assert.equal(hit.stale, false);
    assert.equal(cachedRecords(hit.entry, key, RRType.A, hit.age).answer[0].ttl, 58);
    clock.advance(57_500);
    assert.equal(cache.get(key, RRType.A), undefined);
  });

  it('keeps negative answers for min(SOA TTL, minimum) and clamps to max_ttl', () => {
    const clock = new FakeClock();
    const cache = new AnswerCache({ ...config, max_ttl: 50 }, clock);
    const soaRdata = Buffer.concat([nameToWire('ns.example.test.'), nameToWire('h.example.test.'), Buffer.alloc(16), Buffer.from([0, 0, 0, 30])]);
    const soa = { owner: nameToWire('example.test.'), type: RRType.SOA, class: RRClass.IN, ttl: 3600, rdata: soaRdata };
    assert.equal(cache.set('k', RRType.A, 3, [], [soa]).ttl, 30);
    assert.equal(cache.set('long', RRType.A, 0, [a('long.test.', 1000)], []).ttl, 50);
  });

  it('serves stale entries only within the serve-stale window', () => {
    const clock = new FakeClock();
    const cache = new AnswerCache({ ...config, serve_stale: 60_000 }, clock);
    cache.set('k', RRType.A, 0, [a('x.test.', 10)], []);
    clock.advance(30_000);
    assert.equal(cache.get('k', RRType.A)?.stale, true);
    clock.advance(41_000);
    assert.equal(cache.get('k', RRType.A), undefined);
  });

  it('holds 100k entries within 100 MB', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const used = (): number => {
      gc();
      gc();
      const memory = process.memoryUsage();
      return memory.heapUsed + memory.arrayBuffers;
    };
    const before = used();
    const cache = new AnswerCache(config, new FakeClock());
    for (let i = 0; i < 100_000; i++) {
      const name = `host-${i}.example${i % 100}.test.`;
      cache.set(keyOf(nameToWire(name)), RRType.A, 0, [a(name, 300, i & 255), a(name, 300, (i + 1) & 255)], []);
    }
    const bytes = used() - before;
    assert.equal(cache.size, 100_000);
    process.stdout.write(`# cache: 100k entries (2 A records each) use ${(bytes / 1024 / 1024).toFixed(1)} MB\n`);
    assert.ok(bytes < 100 * 1024 * 1024, `${bytes} bytes`);
  });
});
