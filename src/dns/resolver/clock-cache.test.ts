// ClockCache: bounded by count and bytes; eviction passes over entries hit since it last looked (second
// chance) and takes the oldest unused; the byte total follows sets, replacements and deletes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClockCache } from './clock-cache.ts';

const entry = (size: number) => ({ size, referenced: false });

describe('ClockCache', () => {
  it('evicts the oldest unused entry, giving a used one a second chance', () => {
    const cache = new ClockCache<{ size: number; referenced: boolean }>(3, 1000, (value) => value.size);
    for (const key of ['a', 'b', 'c']) cache.set(key, entry(10));
    cache.get('a');
    cache.set('d', entry(10));
    assert.equal(cache.get('b'), undefined, 'b: oldest and unused');
    assert.ok(cache.get('a') && cache.get('c') && cache.get('d'));
    assert.equal(cache.size, 3);
  });

  it('keeps the byte total and bound through replacements and deletes', () => {
    const cache = new ClockCache<{ size: number; referenced: boolean }>(100, 100, (value) => value.size);
    cache.set('a', entry(40));
    cache.set('b', entry(40));
    cache.set('a', entry(30));
    assert.equal(cache.calculatedSize, 70);
    cache.set('c', entry(50));
    assert.ok(cache.calculatedSize <= 100);
    assert.equal(cache.get('b'), undefined);
    cache.delete('c');
    assert.equal(cache.calculatedSize, 30);
    cache.set('huge', entry(101));
    assert.equal(cache.get('huge'), undefined, 'larger than the whole cache: not stored');
    for (let i = 0; i < 1000; i++) cache.set(`k${i}`, entry(7));
    assert.equal(cache.size, 14);
    assert.equal(cache.calculatedSize, 98);
  });
});
