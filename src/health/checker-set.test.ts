import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { poolSchema, type PoolConfig } from '../config/index.ts';
import { FakeClock } from '../core/index.ts';
import { HealthCheckers, probeTargets } from './checker-set.ts';
import type { ProbeFactory } from './types.ts';

const pools = (spec: Record<string, unknown>): Record<string, PoolConfig> =>
  Object.fromEntries(Object.entries(spec).map(([name, value]) => [name, poolSchema.parse(value)]));

describe('HealthCheckers', () => {
  it('follows the config: keeps checkers of remaining pools, adds new ones, stops removed ones', async () => {
    const clock = new FakeClock();
    const probed: string[] = [];
    const transitions: string[] = [];
    const probe: ProbeFactory = { type: 'tcp', create: () => ({ check: async (target) => (probed.push(target.id), { ok: false, reason: 'connection refused' }) }) };
    const checkers = new HealthCheckers({ clock, probes: new Map([['tcp', probe]]), random: () => 0, onTransition: (pool, id, healthy) => transitions.push(`${pool} ${id} ${healthy}`) });
    const tick = async (ms: number) => {
      for (let t = 0; t < ms; t += 10) {
        clock.advance(10);
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    checkers.apply(pools({ users: { health: { interval: '1s' }, backends: [{ address: '127.0.0.1:1' }] }, plain: { backends: [{ address: '127.0.0.1:9' }] } }));
    await checkers.start();
    await tick(100);
    assert.deepEqual(transitions, ['users 127.0.0.1:1 false']);
    const users = checkers.get('users');
    checkers.apply(pools({ users: { health: { interval: '1s' }, backends: [{ address: '127.0.0.1:1' }, { address: '127.0.0.1:2' }] }, orders: { health: {}, backends: [{ address: '[::1]:5' }] } }));
    assert.equal(checkers.get('users'), users);
    await tick(100);
    assert.deepEqual(transitions.sort(), ['orders [::1]:5 false', 'users 127.0.0.1:1 false', 'users 127.0.0.1:2 false']);
    checkers.apply(pools({ orders: { health: {}, backends: [{ address: '[::1]:5' }] } }));
    probed.length = 0;
    await tick(3_000);
    assert.deepEqual([...new Set(probed)], ['[::1]:5']);
    assert.deepEqual(checkers.status().map((status) => status.pool), ['orders']);
    assert.throws(() => checkers.apply(pools({ g: { health: { type: 'grpc' }, backends: [{ address: '127.0.0.1:7' }] } })), /pool g: no health probe for type grpc/);
    assert.deepEqual(checkers.status().map((status) => status.pool), ['orders'], 'a refused config changes nothing');
    await checkers.stop();
  });

  it('gives probe targets the ids the pool uses', () => {
    assert.deepEqual(probeTargets(poolSchema.parse({ backends: [{ address: '[::1]:80' }, { address: 'localhost:81' }] })), [
      { id: '[::1]:80', host: '::1', port: 80 },
      { id: 'localhost:81', host: 'localhost', port: 81 },
    ]);
  });
});
