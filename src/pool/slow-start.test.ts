import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { poolSchema } from '../config/index.ts';
import { FakeClock } from '../core/index.ts';
import { Pool } from './pool.ts';
import { buildPools } from './registry.ts';
import type { BalanceInput } from './types.ts';

const request: BalanceInput = { clientAddress: '10.0.0.1', path: '/', header: () => undefined, cookie: () => undefined };
const a = '127.0.0.1:3001';
const b = '127.0.0.1:3002';

function setup(balance = 'weighted_round_robin') {
  const clock = new FakeClock();
  const config = poolSchema.parse({ balance, slow_start: '10s', backends: [{ address: a, weight: 4 }, { address: b, weight: 4 }] });
  return { clock, pool: new Pool('users', config, { clock }) };
}

describe('slow start', () => {
  it('does not ramp the backends a pool starts with', () => {
    const { clock, pool } = setup();
    assert.equal(pool.backend(a)!.effectiveWeight(clock.now()), 4);
  });

  it('ramps a recovered backend linearly from 10% to 100% over the window', () => {
    const { clock, pool } = setup();
    pool.setHealth(a, false, 'timeout');
    clock.advance(60_000);
    pool.setHealth(a, true, 'ok');
    const weight = () => pool.backend(a)!.effectiveWeight(clock.now());
    assert.equal(weight(), 0.4);
    clock.advance(5_000);
    assert.ok(Math.abs(weight() - 2.2) < 1e-9);
    assert.equal(pool.status().backends[0].effective_weight, 2.2);
    clock.advance(5_000);
    assert.equal(weight(), 4);
  });

  it('ramps a backend back from ejection and from draining', () => {
    const { clock, pool } = setup();
    pool.setDraining(a, true);
    clock.advance(1000);
    pool.setDraining(a, false);
    assert.equal(pool.backend(a)!.effectiveWeight(clock.now()), 0.4);
  });

  it('balancers follow the ramp: the recovered backend gets a growing share', () => {
    for (const balance of ['weighted_round_robin', 'round_robin', 'least_conn']) {
      const { clock, pool } = setup(balance);
      pool.setHealth(a, false, 'timeout');
      pool.setHealth(a, true, 'ok');
      const shareOfA = () => {
        let count = 0;
        for (let i = 0; i < 1000; i++) if (pool.pick(request)!.backend.id === a) count++;
        return count / 1000;
      };
      const early = shareOfA();
      clock.advance(5_000);
      const middle = shareOfA();
      clock.advance(5_000);
      const late = shareOfA();
      assert.ok(early < 0.12 && middle > early && late > 0.45, `${balance}: shares ${early} ${middle} ${late}`);
    }
  });

  it('ramps backends added by a reload', () => {
    const clock = new FakeClock();
    const first = buildPools({ users: poolSchema.parse({ slow_start: '10s', backends: [{ address: a }] }) }, { clock });
    const second = buildPools({ users: poolSchema.parse({ slow_start: '10s', backends: [{ address: a }, { address: b }] }) }, { clock }, first);
    const pool = second.get('users')!;
    assert.equal(pool.backend(a)!.effectiveWeight(clock.now()), 1);
    assert.equal(pool.backend(b)!.effectiveWeight(clock.now()), 0.1);
  });
});
