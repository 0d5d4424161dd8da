// The answer cache: TTLs count down with the (fake) clock, negative entries live for the negative TTL,
// serve-stale keeps expired entries for its window, and the byte accounting bounds the real heap (1.5M
// entries through a 200 MB cache, measured by bench/dns/cache-memory.ts in a process of its own).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { FakeClock } from '../../core/index.ts';
import { RRClass, RRType } from '../wire/constants.ts';
import { keyOf, nameToWire } from '../wire/name.ts';
import { AnswerCache, cachedRecords } from './cache.ts';

const config = { max_entries: 100_000, max_size: 200 * 1024 * 1024, min_ttl: 0, max_ttl: 86_400 };

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

  it('keeps the real heap within max_size 200mb while 1.5M entries go through it', { timeout: 90_000 }, async () => {
    const bench = path.resolve(import.meta.dirname, '../../../bench/dns/cache-memory.ts');
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', bench, '--entries', '1500000', '--max-size', '200mb', '--json'], { timeout: 90_000 });
    const result = JSON.parse(stdout) as { held: number; maxSize: number; accounted: number; real: number; seconds: number };
    process.stdout.write(`# cache: ${result.held} of 1.5M entries held, accounted ${(result.accounted / 2 ** 20).toFixed(1)} MB, real heap ${(result.real / 2 ** 20).toFixed(1)} MB\n`);
    assert.ok(result.accounted <= result.maxSize);
    assert.ok(result.real <= result.maxSize * 1.05, `real heap ${result.real} bytes over the 200 MB bound`);
    assert.ok(result.held > 880_000, `only ${result.held} entries fit`);
  });
});
