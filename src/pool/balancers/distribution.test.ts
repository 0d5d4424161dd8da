// Per-policy distributions: the sequences and shares each policy promises.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { roundRobin, weightedRoundRobin, leastConn, ipHash, consistentHash } from './index.ts';
import { backends, input, TestFilter, setAvailable, address } from '../../../test/support/balancer-kit.ts';
import type { Backend, Balancer } from '../types.ts';
import type { PoolBackend } from '../backend.ts';

const letters = (members: Backend[]) => (backend: Backend | undefined) => (backend ? 'abcdefgh'[members.indexOf(backend)] : '-');

function sequence(balancer: Balancer, members: Backend[], count: number, filter = new TestFilter()): string {
  const name = letters(members);
  let text = '';
  for (let i = 0; i < count; i++) text += name(balancer.pick(input('10.0.0.1'), filter));
  return text;
}

describe('round_robin', () => {
  it('takes each usable backend in turn', () => {
    const members = backends(1, 5, 1);
    const balancer = roundRobin.create(members, {});
    assert.equal(sequence(balancer, members, 7), 'abcabca');
    setAvailable(members[1], false);
    assert.equal(sequence(balancer, members, 4), 'caca');
  });
});

describe('weighted_round_robin', () => {
  it('is nginx smooth weighted round robin: 5/1/1 gives a a b a c a a', () => {
    const members = backends(5, 1, 1);
    assert.equal(sequence(weightedRoundRobin.create(members, {}), members, 14), 'aabacaaaabacaa');
  });

  it('keeps the proportions with an unusable member and after it returns', () => {
    const members = backends(2, 1, 1);
    const balancer = weightedRoundRobin.create(members, {});
    setAvailable(members[0], false);
    assert.equal(sequence(balancer, members, 4), 'bcbc');
    setAvailable(members[0], true);
    const text = sequence(balancer, members, 400);
    assert.equal(text.split('a').length - 1, 200);
  });
});

describe('least_conn', () => {
  it('breaks ties fairly: equally loaded backends take turns', () => {
    const members = backends(1, 1, 1);
    assert.equal(sequence(leastConn.create(members, {}), members, 6), 'abcabc');
  });

  it('sends to the least loaded; among the tied ones, in turn', () => {
    const members = backends(1, 1, 1);
    members[0].inflight = 3;
    assert.equal(sequence(leastConn.create(members, {}), members, 4), 'bcbc');
  });

  it('weighs load by weight: held leases settle at the weight ratio', () => {
    const members = backends(2, 1);
    const balancer = leastConn.create(members, {});
    const filter = new TestFilter();
    for (let i = 0; i < 300; i++) (balancer.pick(input('10.0.0.1'), filter) as PoolBackend).inflight++;
    assert.deepEqual(members.map((backend) => backend.inflight), [200, 100]);
  });
});

describe('ip_hash', () => {
  it('is stable for an address, also across a rebuild', () => {
    const members = backends(1, 1, 1, 1);
    const filter = new TestFilter();
    const first = ipHash.create(members, {});
    const again = ipHash.create([...members], {});
    for (let i = 0; i < 200; i++) {
      const chosen = first.pick(input(address(i)), filter);
      for (let repeat = 0; repeat < 3; repeat++) assert.equal(first.pick(input(address(i)), filter), chosen);
      assert.equal(again.pick(input(address(i)), filter), chosen);
    }
  });

  it('spreads addresses evenly', () => {
    const members = backends(1, 1, 1, 1);
    const balancer = ipHash.create(members, {});
    const counts = new Map<Backend, number>();
    for (let i = 0; i < 10_000; i++) {
      const chosen = balancer.pick(input(address(i)), new TestFilter())!;
      counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
    }
    for (const count of counts.values()) assert.ok(Math.abs(count - 2500) < 250, `share ${count} of 10000`);
  });

  it('moves only the clients of an unusable backend, to a fixed next choice, and back', () => {
    const members = backends(1, 1, 1, 1);
    const balancer = ipHash.create(members, {});
    const filter = new TestFilter();
    const before = Array.from({ length: 2000 }, (_, i) => balancer.pick(input(address(i)), filter));
    setAvailable(members[2], false);
    const during = Array.from({ length: 2000 }, (_, i) => balancer.pick(input(address(i)), filter));
    for (let i = 0; i < 2000; i++) {
      if (before[i] !== members[2]) assert.equal(during[i], before[i]);
      else assert.equal(balancer.pick(input(address(i)), filter), during[i]);
    }
    setAvailable(members[2], true);
    for (let i = 0; i < 2000; i++) assert.equal(balancer.pick(input(address(i)), filter), before[i]);
  });
});

describe('consistent_hash', () => {
  const keyed = (i: number) => input('10.9.9.9', { headers: { 'x-user': `user-${i}` } });

  function owners(members: Backend[], count: number): (Backend | undefined)[] {
    const balancer = consistentHash.create(members, { hashKey: 'header:X-User' });
    return Array.from({ length: count }, (_, i) => balancer.pick(keyed(i), new TestFilter()));
  }

  it('adding one backend to N moves about 1/(N+1) of 10k keys, all to the new one', () => {
    const members = backends(1, 1, 1, 1, 1, 1);
    const before = owners(members.slice(0, 5), 10_000);
    const after = owners(members, 10_000);
    let moved = 0;
    for (let i = 0; i < before.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(after[i], members[5]);
    }
    assert.ok(Math.abs(moved / 10_000 - 1 / 6) < 0.05, `moved ${moved} of 10000`);
  });

  it('removing one of N backends moves only its keys, about 1/N', () => {
    const members = backends(1, 1, 1, 1, 1);
    const before = owners(members, 10_000);
    const after = owners([members[0], members[1], members[3], members[4]], 10_000);
    let moved = 0;
    for (let i = 0; i < before.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(before[i], members[2]);
    }
    assert.ok(Math.abs(moved / 10_000 - 1 / 5) < 0.05, `moved ${moved} of 10000`);
  });

  it('hashes on the configured key: header, cookie, path or ip', () => {
    const members = backends(1, 1, 1, 1);
    const filter = new TestFilter();
    const byCookie = consistentHash.create(members, { hashKey: 'cookie:sid' });
    const byPath = consistentHash.create(members, { hashKey: 'path' });
    const byIp = consistentHash.create(members, { hashKey: 'ip' });
    const spread = (pick: (i: number) => Backend | undefined) => new Set(Array.from({ length: 200 }, (_, i) => pick(i))).size;
    assert.equal(spread((i) => byCookie.pick(input('10.0.0.1', { cookies: { sid: `s${i}` } }), filter)), 4);
    assert.equal(spread((i) => byPath.pick(input('10.0.0.1', { path: `/item/${i}` }), filter)), 4);
    assert.equal(spread((i) => byIp.pick(input(address(i)), filter)), 4);
    // the key alone decides: a different client with the same cookie lands on the same backend
    assert.equal(byCookie.pick(input('10.0.0.1', { cookies: { sid: 'abc' } }), filter), byCookie.pick(input('10.7.7.7', { cookies: { sid: 'abc' } }), filter));
    // a request without the cookie falls back to its client address
    assert.equal(byCookie.pick(input('10.1.2.3'), filter), byIp.pick(input('10.1.2.3'), filter));
  });

  it('passes a key whose owner is unusable to a fixed next backend', () => {
    const members = backends(1, 1, 1);
    const balancer = consistentHash.create(members, { hashKey: 'header:x-user' });
    const filter = new TestFilter();
    setAvailable(members[0], false);
    for (let i = 0; i < 300; i++) {
      const chosen = balancer.pick(keyed(i), filter);
      assert.notEqual(chosen, members[0]);
      assert.equal(balancer.pick(keyed(i), filter), chosen);
    }
  });
});
