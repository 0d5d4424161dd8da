import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bar, parseHostPort, rttStats } from './format.ts';
import { parseRootHints } from './root-hints.ts';

test('rttStats matches iputils: min/avg/max, mdev as the population deviation, loss in percent', () => {
  const stats = rttStats(4, [1, 2, 3]);
  assert.equal(stats.min, 1);
  assert.equal(stats.max, 3);
  assert.equal(stats.avg, 2);
  assert.ok(Math.abs(stats.mdev - Math.sqrt(2 / 3)) < 1e-9);
  assert.equal(stats.lossPercent, 25);
  assert.deepEqual(rttStats(2, []), { sent: 2, received: 0, lossPercent: 100, min: 0, avg: 0, max: 0, mdev: 0 });
});

test('parseHostPort: names, IPv4, bracketed and bare IPv6, bad ports', () => {
  assert.deepEqual(parseHostPort('example.test:8080'), { host: 'example.test', port: 8080 });
  assert.deepEqual(parseHostPort('127.0.0.1'), { host: '127.0.0.1', port: undefined });
  assert.deepEqual(parseHostPort('[::1]:53'), { host: '::1', port: 53 });
  assert.deepEqual(parseHostPort('::1'), { host: '::1', port: undefined });
  assert.equal(parseHostPort('host:0'), undefined);
  assert.equal(parseHostPort('host:99999'), undefined);
  assert.equal(parseHostPort(':80'), undefined);
});

test('bar: scaled to the total, at least one cell for a non-zero span, never wider than the row', () => {
  assert.equal(bar(0, 50, 100, 10), '█████     ');
  assert.equal(bar(50, 0.01, 100, 10), '     █    ');
  assert.equal(bar(99, 50, 100, 10).length, 10);
  assert.equal(bar(0, 0, 0, 4), '    ');
});

test('root hints: named.root lines, comments and NS lines ignored', () => {
  const hints = parseRootHints('; comment\n.  3600000  NS  A.ROOT-SERVERS.NET.\nA.ROOT-SERVERS.NET.  3600000  A  198.41.0.4\nA.ROOT-SERVERS.NET. 3600000 IN AAAA 2001:503:ba3e::2:30\n');
  assert.deepEqual(hints, [{ name: 'a.root-servers.net.', address: '198.41.0.4' }, { name: 'a.root-servers.net.', address: '2001:503:ba3e::2:30' }]);
});
