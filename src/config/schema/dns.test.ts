// dns.rate_limit's default follows the listen addresses: on beyond loopback, off on loopback only, and an
// explicit setting wins.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dnsSchema } from './dns.ts';

const rateLimit = (listen: string[], rate_limit?: unknown): unknown => dnsSchema.parse({ listen, ...(rate_limit === undefined ? {} : { rate_limit }) }).rate_limit;
const defaults = { responses_per_second: 20, slip: 2, ipv4_prefix: 24, ipv6_prefix: 56 };

test('rate limiting is on by default when any listen address is beyond loopback', () => {
  for (const host of ['0.0.0.0', '[::]', '192.0.2.53', '[2001:db8::53]', 'ns1.example.test']) {
    assert.deepEqual(rateLimit([`udp://127.0.0.1:53`, `udp://${host}:53`]), defaults, host);
  }
});

test('rate limiting is off by default on loopback only', () => {
  assert.equal(rateLimit(['udp://127.0.0.1:53', 'tcp://127.9.9.9:53', 'udp://[::1]:53', 'udp://localhost:53']), undefined);
  assert.equal(dnsSchema.parse({}).rate_limit, undefined, 'the default listen is loopback');
});

test('an explicit rate_limit wins', () => {
  assert.equal(rateLimit(['udp://0.0.0.0:53'], false), undefined);
  assert.deepEqual(rateLimit(['udp://127.0.0.1:53'], { slip: 1 }), { ...defaults, slip: 1 });
  assert.throws(() => rateLimit(['udp://127.0.0.1:53'], true), /expected false \(off\) or a mapping/);
});
