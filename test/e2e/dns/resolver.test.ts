// The caching resolver: forwarding to another Switchyard instance, the TTL counting down in cached
// answers, negative caching, coalescing, serve-stale, and REFUSED for clients outside resolver.allow.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { queryBytes } from '../../support/dns-queries.ts';
import { decodeMessage } from '../../../src/dns/resolver/message.ts';
import { dig, startDns, udpExchange, type RunningDns } from './support.ts';

const upstreamConfig = `
dns:
  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]
  zones:
    - origin: elsewhere.test.
      ttl: 100
      soa: { mname: ns.elsewhere.test., rname: hostmaster.elsewhere.test., negative_ttl: 50 }
      records:
        - { name: www, type: A, value: 198.51.100.1 }
        - { name: short, type: A, value: 198.51.100.2, ttl: 1 }
        - { name: alias, type: CNAME, value: www }
        - { name: big, type: TXT, value: ["${'a'.repeat(250)}", "${'b'.repeat(250)}", "${'c'.repeat(250)}"] }
`;

function resolverConfig(upstreamPort: number, allow: string): string {
  return `
dns:
  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records:
        - { name: www, type: A, value: 192.0.2.1 }
  resolver:
    allow: [${allow}]
    forward: [127.0.0.1:${upstreamPort}]
    timeout: 500ms
    cache: { max_entries: 1000, serve_stale: 1h }
`;
}

describe('dns resolver (forwarding)', () => {
  let upstream: RunningDns;
  let resolver: RunningDns;
  let closed: RunningDns;
  before(async () => {
    upstream = await startDns(upstreamConfig);
    resolver = await startDns(resolverConfig(upstream.port, '127.0.0.0/8'));
    closed = await startDns(resolverConfig(upstream.port, '10.0.0.0/8'));
  });
  after(async () => {
    await Promise.all([resolver?.stop(), closed?.stop(), upstream?.stop()]);
  });
  const upstreamQueries = (): number => resolver.server.status().resolver!.upstream_queries;

  it('forwards names outside its zones and answers with RA', async () => {
    const result = await dig(resolver, ['www.elsewhere.test', 'A']);
    assert.equal(result.status, 'NOERROR');
    assert.ok(result.flags.includes('ra'));
    assert.ok(!result.flags.includes('aa'));
    assert.deepEqual(result.answer.map((record) => record[4]), ['198.51.100.1']);
    const alias = await dig(resolver, ['alias.elsewhere.test', 'A'], 'kdig');
    assert.deepEqual(alias.answer.map((record) => record[4]), ['www.elsewhere.test.', '198.51.100.1']);
    const own = await dig(resolver, ['www.example.test', 'A']);
    assert.ok(own.flags.includes('aa'));
  });

  it('serves repeats from the cache with the TTL counting down', async () => {
    const first = await dig(resolver, ['www.elsewhere.test', 'A']);
    const before = upstreamQueries();
    await delay(2100);
    const second = await dig(resolver, ['www.elsewhere.test', 'A']);
    assert.equal(upstreamQueries(), before, 'no upstream query for a cached answer');
    const firstTtl = Number(first.answer[0][1]);
    const secondTtl = Number(second.answer[0][1]);
    assert.ok(firstTtl <= 100 && secondTtl <= firstTtl - 2, `ttl ${firstTtl} then ${secondTtl}`);
  });

  it('caches negative answers for the negative TTL', async () => {
    const first = await dig(resolver, ['nope.elsewhere.test', 'A']);
    assert.equal(first.status, 'NXDOMAIN');
    assert.equal(first.authority[0][3], 'SOA');
    assert.equal(first.authority[0][1], '50');
    const before = upstreamQueries();
    const second = await dig(resolver, ['nope.elsewhere.test', 'A']);
    assert.equal(second.status, 'NXDOMAIN');
    assert.equal(upstreamQueries(), before);
  });

  it('coalesces identical questions into one upstream query', async () => {
    const before = upstreamQueries();
    const answers = await Promise.all(Array.from({ length: 30 }, (_, index) => udpExchange(resolver, queryBytes('alias.elsewhere.test.', 16, { id: index }))));
    assert.equal(upstreamQueries() - before, 1);
    for (const [index, answer] of answers.entries()) assert.equal(decodeMessage(answer)?.id, index);
  });

  it('retries over TCP when the upstream truncates', async () => {
    const result = await dig(resolver, ['+tcp', 'big.elsewhere.test', 'TXT']);
    assert.equal(result.status, 'NOERROR');
    assert.equal(result.answer[0].length, 7);
  });

  it('refuses clients outside resolver.allow but still answers its zones to them', async () => {
    const refused = await dig(closed, ['www.elsewhere.test', 'A']);
    assert.equal(refused.status, 'REFUSED');
    const own = await dig(closed, ['www.example.test', 'A']);
    assert.equal(own.status, 'NOERROR');
  });

  it('serves a stale answer when the upstream is gone (RFC 8767)', async () => {
    const fresh = await dig(resolver, ['short.elsewhere.test', 'A']);
    assert.equal(fresh.answer[0][1], '1');
    await upstream.stop();
    await delay(1100);
    const stale = await dig(resolver, ['short.elsewhere.test', 'A']);
    assert.equal(stale.status, 'NOERROR');
    assert.equal(stale.answer[0][4], '198.51.100.2');
    assert.equal(stale.answer[0][1], '30');
    const unknown = await dig(resolver, ['never.elsewhere.test', 'A']);
    assert.equal(unknown.status, 'SERVFAIL');
  });
});
