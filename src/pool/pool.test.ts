import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { poolSchema } from '../config/index.ts';
import { FakeClock } from '../core/index.ts';
import { Pool } from './pool.ts';
import type { BalanceInput, PoolChange } from './types.ts';

const request: BalanceInput = { clientAddress: '10.0.0.1', path: '/', header: () => undefined, cookie: () => undefined };

function pool(extra: Record<string, unknown> = {}, clock = new FakeClock()): Pool {
  const config = poolSchema.parse({
    backends: [{ address: '127.0.0.1:3001' }, { address: '127.0.0.1:3002' }, { address: '127.0.0.1:3003' }],
    ...extra,
  });
  return new Pool('users', config, { clock });
}

describe('Pool', () => {
  it('leases in-flight and releases once', () => {
    const users = pool();
    const lease = users.pick(request)!;
    assert.equal(lease.backend.inflight, 1);
    lease.release('success');
    lease.release('success');
    assert.equal(lease.backend.inflight, 0);
  });

  it('skips unhealthy, draining and tried backends; undefined when none is usable', () => {
    const users = pool();
    users.setHealth('127.0.0.1:3001', false, 'connection refused');
    users.setDraining('127.0.0.1:3002', true);
    for (let i = 0; i < 5; i++) assert.equal(users.pick(request)!.backend.id, '127.0.0.1:3003');
    assert.equal(users.pick(request, new Set(['127.0.0.1:3003'])), undefined);
    const status = users.status();
    assert.deepEqual(status.backends.map((backend) => backend.state), ['unhealthy', 'draining', 'healthy']);
    assert.equal(status.backends[0].health_reason, 'connection refused');
    assert.equal(status.usable, 1);
    users.setDraining('127.0.0.1:3002', false);
    assert.equal(users.status().usable, 2);
    assert.equal(users.setHealth('10.9.9.9:1', false, 'x'), false);
  });

  it('starts draining a backend the config marks drain: true', () => {
    const users = pool({ backends: [{ address: '127.0.0.1:3001', drain: true }, { address: '127.0.0.1:3002' }] });
    assert.equal(users.backend('127.0.0.1:3001')!.state, 'draining');
  });

  it('gives DNS the usable addresses, and every address when none is usable', () => {
    const users = pool();
    users.setHealth('127.0.0.1:3001', false, 'timeout');
    assert.deepEqual(users.healthyAddresses().map((address) => address.port), [3002, 3003]);
    users.setHealth('127.0.0.1:3002', false, 'timeout');
    users.setHealth('127.0.0.1:3003', false, 'timeout');
    assert.deepEqual(users.healthyAddresses().map((address) => address.port), [3001, 3002, 3003]);
    users.setHealth('127.0.0.1:3002', true, 'ok');
    assert.deepEqual(users.healthyAddresses(), [{ host: '127.0.0.1', port: 3002, weight: 1 }]);
  });

  it('tells observers about each state change, once', () => {
    const users = pool();
    const changes: PoolChange[] = [];
    const unsubscribe = users.onChange((change) => changes.push(change));
    users.setHealth('127.0.0.1:3001', false, 'status 500');
    users.setHealth('127.0.0.1:3001', false, 'status 500');
    users.setHealth('127.0.0.1:3001', true, 'ok');
    unsubscribe();
    users.setDraining('127.0.0.1:3001', true);
    assert.deepEqual(changes, [
      { pool: 'users', backend: '127.0.0.1:3001', state: 'unhealthy', reason: 'status 500' },
      { pool: 'users', backend: '127.0.0.1:3001', state: 'healthy', reason: 'ok' },
    ]);
  });

  it('least_conn follows leases as they are released', () => {
    const users = pool({ balance: 'least_conn' });
    const held = [users.pick(request)!, users.pick(request)!, users.pick(request)!];
    assert.equal(new Set(held.map((lease) => lease.backend.id)).size, 3);
    held[1].release('success');
    assert.equal(users.pick(request)!.backend.id, held[1].backend.id);
  });

  it('refuses a policy without a registered balancer', () => {
    const config = poolSchema.parse({ backends: [{ address: '127.0.0.1:1' }] });
    assert.throws(() => new Pool('x', config, { clock: new FakeClock(), balancers: new Map() }), /pool x: no balancer named round_robin/);
  });

  it('writes an IPv6 backend id with brackets', () => {
    const users = pool({ backends: [{ address: '[::1]:3001' }] });
    assert.equal(users.backends[0].id, '[::1]:3001');
  });
});
