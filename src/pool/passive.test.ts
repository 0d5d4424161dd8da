import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { poolSchema } from '../config/index.ts';
import { FakeClock } from '../core/index.ts';
import { Pool } from './pool.ts';
import type { BalanceInput, LeaseOutcome } from './types.ts';

const request: BalanceInput = { clientAddress: '10.0.0.1', path: '/', header: () => undefined, cookie: () => undefined };
const ids = ['127.0.0.1:3001', '127.0.0.1:3002', '127.0.0.1:3003', '127.0.0.1:3004'];

function setup(passive: Record<string, unknown> = {}, count = 4) {
  const clock = new FakeClock();
  const config = poolSchema.parse({
    backends: ids.slice(0, count).map((address) => ({ address })),
    passive: { consecutive_failures: 3, eject_for: '10s', max_eject_for: '25s', max_ejected_percent: 50, ...passive },
  });
  const pool = new Pool('users', config, { clock });
  /** Leases `id` directly (tried = all others) and ends the lease with `outcome`. */
  const outcome = (id: string, result: LeaseOutcome, times = 1) => {
    for (let i = 0; i < times; i++) {
      const lease = pool.pick(request, new Set(ids.filter((other) => other !== id)));
      assert.equal(lease?.backend.id, id);
      lease.release(result);
    }
  };
  const state = (id: string) => pool.backend(id)!.state;
  return { clock, pool, outcome, state };
}

describe('passive outlier ejection', () => {
  it('does not change DNS answers: they follow the verdicts every worker shares (health, drains)', () => {
    const { pool, outcome, state } = setup();
    outcome(ids[0], 'connect_error', 3);
    assert.equal(state(ids[0]), 'ejected');
    assert.deepEqual(pool.healthyAddresses().map((address) => `${address.host}:${address.port}`), ids);
    pool.setHealth(ids[0], false, 'timeout');
    assert.deepEqual(pool.healthyAddresses().map((address) => `${address.host}:${address.port}`), ids.slice(1));
  });

  it('ejects after consecutive failures and returns after eject_for', () => {
    const { clock, pool, outcome, state } = setup();
    outcome(ids[0], 'connect_error', 2);
    assert.equal(state(ids[0]), 'healthy');
    outcome(ids[0], 'http_5xx');
    assert.equal(state(ids[0]), 'ejected');
    assert.equal(pool.status().backends[0].ejected_until, clock.now() + 10_000);
    clock.advance(9_999);
    assert.equal(state(ids[0]), 'ejected');
    clock.advance(1);
    assert.equal(state(ids[0]), 'healthy');
  });

  it('a success resets the streak; cancelled leaves it alone', () => {
    const { outcome, state } = setup();
    outcome(ids[0], 'timeout', 2);
    outcome(ids[0], 'success');
    outcome(ids[0], 'reset', 2);
    outcome(ids[0], 'cancelled', 5);
    assert.equal(state(ids[0]), 'healthy');
    outcome(ids[0], 'bad_response');
    assert.equal(state(ids[0]), 'ejected');
  });

  it('ejects for longer each time, capped by max_eject_for, and the level decays in calm', () => {
    const { clock, pool, outcome, state } = setup();
    const ejectedFor = () => pool.status().backends[0].ejected_until! - clock.now();
    outcome(ids[0], 'connect_error', 3);
    assert.equal(ejectedFor(), 10_000);
    clock.advance(10_000);
    outcome(ids[0], 'connect_error', 3);
    assert.equal(ejectedFor(), 20_000);
    clock.advance(20_000);
    outcome(ids[0], 'connect_error', 3);
    assert.equal(ejectedFor(), 25_000);
    clock.advance(25_000);
    assert.equal(state(ids[0]), 'healthy');
    // 20 s of good behaviour (two eject_for periods) drops the level from 3 to 1, so the next is 20 s
    clock.advance(20_000);
    outcome(ids[0], 'connect_error', 3);
    assert.equal(ejectedFor(), 20_000);
    assert.equal(pool.status().backends[0].ejections, 4);
  });

  it('never ejects more than max_ejected_percent at once', () => {
    const { clock, outcome, state } = setup();
    outcome(ids[0], 'connect_error', 3);
    outcome(ids[1], 'connect_error', 3);
    outcome(ids[2], 'connect_error', 3);
    assert.deepEqual(ids.map(state), ['ejected', 'ejected', 'healthy', 'healthy']);
    clock.advance(10_000);
    // the third backend is still failing: the next failure ejects it now that there is room
    outcome(ids[2], 'connect_error');
    assert.deepEqual(ids.map(state), ['healthy', 'healthy', 'ejected', 'healthy']);
  });

  it('never ejects the last usable backend', () => {
    const { pool, outcome, state } = setup({ max_ejected_percent: 100 }, 2);
    pool.setHealth(ids[1], false, 'timeout');
    outcome(ids[0], 'connect_error', 10);
    assert.equal(state(ids[0]), 'healthy');
  });

  it('does nothing without a passive section', () => {
    const clock = new FakeClock();
    const pool = new Pool('x', poolSchema.parse({ backends: [{ address: '127.0.0.1:1' }, { address: '127.0.0.1:2' }] }), { clock });
    for (let i = 0; i < 20; i++) pool.pick(request)!.release('connect_error');
    assert.equal(pool.status().usable, 2);
  });
});
