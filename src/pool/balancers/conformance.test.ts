// The contract every registered balancer keeps, run against each one (STYLE.md rule 3).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtinBalancers } from './index.ts';
import { backends, input, TestFilter, setAvailable, address } from '../../../test/support/balancer-kit.ts';
import type { Backend, Balancer } from '../types.ts';

const weighted = new Set(['weighted_round_robin', 'least_conn', 'ip_hash', 'consistent_hash']);

for (const [name, factory] of builtinBalancers()) {
  describe(`balancer ${name} (conformance)`, () => {
    const options = { hashKey: name === 'consistent_hash' ? 'ip' : undefined };

    it('is registered under its config name', () => {
      assert.equal(factory.name, name);
    });

    it('returns undefined for an empty pool and when nothing is usable', () => {
      const filter = new TestFilter();
      assert.equal(factory.create([], options).pick(input('10.0.0.1'), filter), undefined);
      const members = backends(1, 1, 1);
      for (const backend of members) setAvailable(backend, false);
      const balancer = factory.create(members, options);
      for (let i = 0; i < 20; i++) assert.equal(balancer.pick(input(address(i)), filter), undefined);
    });

    it('peek names the next pick and changes nothing (switchyard explain)', () => {
      const members = backends(3, 1, 2);
      const balancer = factory.create(members, options);
      const filter = new TestFilter();
      for (let i = 0; i < 30; i++) {
        const request = input(address(i % 4));
        const first = balancer.peek?.(request, filter);
        assert.equal(balancer.peek?.(request, filter), first, 'a second peek agrees with the first');
        assert.equal(balancer.pick(request, filter), first);
      }
    });

    it('never picks an unusable backend, and uses every usable one', () => {
      const members = backends(1, 1, 1, 1);
      setAvailable(members[1], false);
      const balancer = factory.create(members, options);
      const filter = new TestFilter();
      const seen = new Set<string>();
      for (let i = 0; i < 400; i++) {
        const chosen = balancer.pick(input(address(i)), filter);
        assert.ok(chosen);
        assert.notEqual(chosen.id, members[1].id);
        seen.add(chosen.id);
      }
      assert.equal(seen.size, 3);
    });

    it('respects tried: successive retries give distinct backends, then undefined', () => {
      const members = backends(1, 2, 3, 1, 1);
      const balancer = factory.create(members, options);
      for (let i = 0; i < 50; i++) {
        const filter = new TestFilter();
        const request = input(address(i));
        for (let attempt = 0; attempt < members.length; attempt++) {
          const chosen = balancer.pick(request, filter);
          assert.ok(chosen, `attempt ${attempt}`);
          assert.ok(!filter.tried.has(chosen.id));
          filter.tried.add(chosen.id);
        }
        assert.equal(balancer.pick(request, filter), undefined);
      }
    });

    it('survives a membership change (rebuilt over the new list)', () => {
      const first = backends(1, 1, 1);
      const second = [first[0], first[2], ...backends(1, 1, 1, 1).slice(3)];
      const filter = new TestFilter();
      factory.create(first, options).pick(input('10.0.0.1'), filter);
      const balancer = factory.create(second, options);
      const ids = new Set(second.map((backend) => backend.id));
      for (let i = 0; i < 200; i++) assert.ok(ids.has(balancer.pick(input(address(i)), filter)!.id));
    });

    it('gives a backend in slow start (10%) a much smaller share', () => {
      const members = backends(1, 1, 1, 1);
      const filter = new TestFilter();
      members[0].slowStartMs = 10_000;
      members[0].rampFrom = filter.now; // just started: effective weight 0.1
      const share = countShares(factory.create(members, options), filter, 4000);
      const ramping = share.get(members[0].id) ?? 0;
      assert.ok(ramping < 4000 * 0.1, `ramping backend got ${ramping} of 4000`);
      assert.ok(ramping > 0, 'ramping backend gets some traffic');
    });

    if (weighted.has(name)) {
      it('respects weights', () => {
        const members = backends(3, 1);
        const share = countShares(factory.create(members, options), new TestFilter(), 4000, name === 'least_conn');
        const heavy = share.get(members[0].id) ?? 0;
        assert.ok(heavy > 4000 * 0.65 && heavy < 4000 * 0.85, `weight 3 of 4 got ${heavy} of 4000`);
      });
    }
  });
}

/** Picks `count` times over distinct client addresses; least_conn leases are held to make weights matter. */
function countShares(balancer: Balancer, filter: TestFilter, count: number, hold = false): Map<string, number> {
  const share = new Map<string, number>();
  const held: Backend[] = [];
  for (let i = 0; i < count; i++) {
    const chosen = balancer.pick(input(address(i)), filter)!;
    share.set(chosen.id, (share.get(chosen.id) ?? 0) + 1);
    if (hold) {
      (chosen as { inflight: number }).inflight++;
      held.push(chosen);
    }
  }
  for (const backend of held) (backend as { inflight: number }).inflight--;
  return share;
}
