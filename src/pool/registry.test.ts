import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { poolSchema, type PoolConfig } from '../config/index.ts';
import { FakeClock } from '../core/index.ts';
import { buildPools } from './registry.ts';
import { builtinBalancers } from './balancers/index.ts';
import type { BalanceInput } from './types.ts';

const request: BalanceInput = { clientAddress: '10.0.0.1', path: '/', header: () => undefined, cookie: () => undefined };
const pools = (spec: Record<string, unknown>): Record<string, PoolConfig> =>
  Object.fromEntries(Object.entries(spec).map(([name, value]) => [name, poolSchema.parse(value)]));

describe('buildPools (reload)', () => {
  it('keeps the Pool and its backends state for pools and backends that remain', () => {
    const clock = new FakeClock();
    const first = buildPools(pools({ users: { backends: [{ address: '127.0.0.1:1' }, { address: '127.0.0.1:2' }] } }), { clock });
    const users = first.require('users');
    users.setHealth('127.0.0.1:1', false, 'status 500');
    const lease = users.pick(request)!;
    const second = buildPools(pools({ users: { balance: 'least_conn', backends: [{ address: '127.0.0.1:1' }, { address: '127.0.0.1:2', weight: 3 }] } }), { clock }, first);
    assert.equal(second.get('users'), users);
    assert.equal(users.balance, 'least_conn');
    assert.deepEqual(users.status().backends.map((backend) => [backend.id, backend.state, backend.weight, backend.inflight]), [
      ['127.0.0.1:1', 'unhealthy', 1, 0],
      ['127.0.0.1:2', 'healthy', 3, 1],
    ]);
    lease.release('success');
    assert.equal(users.backend('127.0.0.1:2')!.inflight, 0);
  });

  it('drains a removed backend until its leases end, then drops it', () => {
    const clock = new FakeClock();
    const first = buildPools(pools({ users: { backends: [{ address: '127.0.0.1:1' }, { address: '127.0.0.1:2' }] } }), { clock });
    const users = first.require('users');
    const leases = [users.pick(request)!, users.pick(request)!];
    const onTwo = leases.find((lease) => lease.backend.id === '127.0.0.1:2')!;
    buildPools(pools({ users: { backends: [{ address: '127.0.0.1:1' }] } }), { clock }, first);
    assert.deepEqual(users.status().backends.map((backend) => backend.state), ['healthy', 'draining']);
    for (let i = 0; i < 5; i++) assert.equal(users.pick(request)!.backend.id, '127.0.0.1:1');
    onTwo.release('success');
    assert.deepEqual(users.backends.map((backend) => backend.id), ['127.0.0.1:1']);
  });

  it('drops a removed backend after drain_timeout even with leases open', () => {
    const clock = new FakeClock();
    const first = buildPools(pools({ users: { drain_timeout: '5s', backends: [{ address: '127.0.0.1:1' }, { address: '127.0.0.1:2' }] } }), { clock });
    const users = first.require('users');
    const lease = users.pick(request, new Set(['127.0.0.1:1']))!;
    buildPools(pools({ users: { drain_timeout: '5s', backends: [{ address: '127.0.0.1:1' }] } }), { clock }, first);
    clock.advance(5_000);
    assert.equal(users.backends.length, 1);
    lease.release('success'); // late release of a dropped backend: harmless
    assert.equal(users.backends.length, 1);
  });

  it('a backend re-added while draining is taken back with its state', () => {
    const clock = new FakeClock();
    const one = pools({ users: { backends: [{ address: '127.0.0.1:1' }, { address: '127.0.0.1:2' }] } });
    const first = buildPools(one, { clock });
    const users = first.require('users');
    users.pick(request, new Set(['127.0.0.1:1']));
    const second = buildPools(pools({ users: { backends: [{ address: '127.0.0.1:1' }] } }), { clock }, first);
    buildPools(one, { clock }, second);
    assert.deepEqual(users.status().backends.map((backend) => [backend.state, backend.inflight]), [['healthy', 0], ['healthy', 1]]);
  });

  it('adds new pools and retires removed ones (draining)', () => {
    const clock = new FakeClock();
    const first = buildPools(pools({ users: { backends: [{ address: '127.0.0.1:1' }] }, old: { backends: [{ address: '127.0.0.1:9' }] } }), { clock });
    const second = buildPools(pools({ users: { backends: [{ address: '127.0.0.1:1' }] }, orders: { backends: [{ address: '127.0.0.1:5' }] } }), { clock }, first);
    assert.deepEqual(second.names(), ['users', 'orders']);
    assert.equal(second.retired.length, 1);
    assert.equal(second.retired[0].backends[0].state, 'draining');
    assert.deepEqual(second.status().map((pool) => pool.name), ['users', 'orders']);
    assert.throws(() => second.require('old'), /pool old: not defined/);
  });
});

describe('buildPools (refused reload)', () => {
  it('changes nothing when a pool names a balancer the registry lacks', () => {
    const clock = new FakeClock();
    const balancers = new Map([...builtinBalancers()].filter(([name]) => name !== 'least_conn'));
    const first = buildPools(pools({ users: { backends: [{ address: '127.0.0.1:1' }] } }), { clock, balancers });
    assert.throws(
      () => buildPools(pools({ users: { backends: [{ address: '127.0.0.1:2' }] }, orders: { balance: 'least_conn', backends: [{ address: '127.0.0.1:3' }] } }), { clock, balancers }, first),
      /pool orders: no balancer named least_conn/,
    );
    assert.deepEqual(first.require('users').backends.map((backend) => backend.id), ['127.0.0.1:1']);
  });
});

describe('buildPools (deferred, build-then-swap)', () => {
  it('leaves kept pools alone until commit; discard closes only the new ones', () => {
    const clock = new FakeClock();
    const first = buildPools(pools({ users: { backends: [{ address: '127.0.0.1:1' }] }, old: { backends: [{ address: '127.0.0.1:9' }] } }), { clock });
    const users = first.require('users');
    const nextConfig = pools({ users: { backends: [{ address: '127.0.0.1:2' }] }, orders: { backends: [{ address: '127.0.0.1:5' }] } });

    const abandoned = buildPools(nextConfig, { clock }, first, { defer: true });
    assert.equal(abandoned.get('users'), users);
    assert.deepEqual(users.backends.map((backend) => backend.id), ['127.0.0.1:1']);
    abandoned.discard();
    assert.equal(first.require('old').backends[0].state, 'healthy');

    const second = buildPools(nextConfig, { clock }, first, { defer: true });
    second.commit();
    second.commit();
    assert.deepEqual(users.backends.map((backend) => backend.id), ['127.0.0.1:2']);
    assert.equal(second.retired[0].backends[0].state, 'draining');
  });
});
