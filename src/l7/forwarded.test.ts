// TrustedProxies and the X-Forwarded-For walk: answers by range (v4, v6, v4-mapped), nothing trusted that
// is no address, and the same answers from the memo, also once it has started over many times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ipaddr from 'ipaddr.js';
import { TrustedProxies, clientFromChain } from './forwarded.ts';

const trusted = (): TrustedProxies => new TrustedProxies([ipaddr.parseCIDR('10.0.0.0/8'), ipaddr.parseCIDR('2001:db8::/32')]);

test('contains: ranges of both families, v4-mapped v6, and no address', () => {
  const proxies = trusted();
  for (let round = 0; round < 2; round++) {
    // the second round answers from the memo
    assert.equal(proxies.contains('10.1.2.3'), true);
    assert.equal(proxies.contains(' 10.1.2.3 '), true);
    assert.equal(proxies.contains('::ffff:10.9.9.9'), true);
    assert.equal(proxies.contains('2001:db8::7'), true);
    assert.equal(proxies.contains('11.0.0.1'), false);
    assert.equal(proxies.contains('2001:db9::7'), false);
    assert.equal(proxies.contains('unknown'), false);
    assert.equal(proxies.contains(''), false);
  }
  assert.equal(new TrustedProxies([]).contains('10.1.2.3'), false);
});

test('contains: the memo is bounded and keeps answering right after it starts over', () => {
  const proxies = trusted();
  for (let i = 0; i < 5000; i++) {
    const inside = i % 2 === 0;
    const address = inside ? `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : `192.0.${(i >> 8) & 255}.${i & 255}`;
    assert.equal(proxies.contains(address), inside, address);
  }
  assert.equal(proxies.contains('10.0.0.1'), true);
});

test('clientFromChain: the right-most entry not trusted; an entry that is no address ends the walk', () => {
  const proxies = trusted();
  assert.equal(clientFromChain('', '10.0.0.9', proxies), '10.0.0.9');
  assert.equal(clientFromChain('6.6.6.6, 203.0.113.9, 10.0.0.2', '10.0.0.9', proxies), '203.0.113.9');
  assert.equal(clientFromChain('203.0.113.9, unknown, 10.0.0.2', '10.0.0.9', proxies), 'unknown');
  assert.equal(clientFromChain('10.0.0.3, 10.0.0.2', '10.0.0.9', proxies), '10.0.0.3');
});
