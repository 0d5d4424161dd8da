// KeyIndex: the key it hands back for a URL's parts is the one primaryKey spells, for every part that
// differs (host, query, scheme, route) and after it started over at its bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyIndex, primaryKey } from './keys.ts';
import { fakeContext } from '../../../../test/support/filter-kit.ts';

test('KeyIndex gives primaryKey for every combination of parts, the first time and when found again', () => {
  const index = new KeyIndex('web');
  const variants = [
    { path: '/a', host: 'edge.test' },
    { path: '/a', host: 'Edge.test:80' },
    { path: '/a', host: 'other.test' },
    { path: '/a', host: 'edge.test', query: 'x=1' },
    { path: '/a', host: 'edge.test', scheme: 'https' as const },
    { path: '/a', host: 'edge.test:443', scheme: 'https' as const },
    { path: '/a', host: 'edge.test', routeName: 'other' },
    { path: '/b', host: 'edge.test' },
  ];
  const first = variants.map((parts) => index.primary(fakeContext(parts)));
  for (let round = 0; round < 2; round++) {
    variants.forEach((parts, i) => {
      const ctx = fakeContext(parts);
      const key = index.primary(ctx);
      assert.equal(key, primaryKey(ctx, 'web'));
      assert.equal(key, first[i]);
    });
  }
  assert.equal(first[0], first[1], 'the host is lower-cased and the default port dropped');
  assert.equal(first[4], first[5]);
  assert.equal(new Set(first).size, variants.length - 2);
  // the same URL and route name on another listener is another key
  const elsewhere = new KeyIndex('internal').primary(fakeContext(variants[0]));
  assert.equal(elsewhere, primaryKey(fakeContext(variants[0]), 'internal'));
  assert.notEqual(elsewhere, first[0]);
});

test('KeyIndex stays bounded: thousands of paths, one path under many hosts, still the right keys', () => {
  const index = new KeyIndex('web');
  for (let i = 0; i < 10_000; i++) {
    const ctx = fakeContext({ path: `/p${i}` });
    assert.equal(index.primary(ctx), primaryKey(ctx, 'web'));
  }
  for (let i = 0; i < 50; i++) {
    const ctx = fakeContext({ path: '/same', host: `h${i}.test` });
    assert.equal(index.primary(ctx), primaryKey(ctx, 'web'));
    assert.equal(index.primary(fakeContext({ path: '/same', host: 'h0.test' })), primaryKey(fakeContext({ path: '/same', host: 'h0.test' }), 'web'));
  }
});
