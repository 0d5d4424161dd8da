// The pick log (pick-log.ts): what each pick considered, read back by its sequence number while later
// picks have not overwritten it; and the explain order (Pool.preferenceOrder).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { poolSchema } from '../config/index.ts';
import { FakeClock } from '../core/index.ts';
import { Pool } from './pool.ts';
import { PICK_LOG_SIZE, PickSnapshot, candidatesLine, pickView } from './pick-log.ts';
import type { BalanceInput } from './types.ts';

const request: BalanceInput = { clientAddress: '10.0.0.1', path: '/', header: () => undefined, cookie: () => undefined };

function pool(extra: Record<string, unknown> = {}): Pool {
  const config = poolSchema.parse({ backends: [{ address: '127.0.0.1:3001' }, { address: '127.0.0.1:3002', weight: 3 }, { address: '127.0.0.1:3003' }, { address: '127.0.0.1:3004' }], ...extra });
  return new Pool('users', config, { clock: new FakeClock() });
}

describe('PickLog', () => {
  it('records every member\'s state, in-flight count and weight, and the chosen one', () => {
    const users = pool({ balance: 'least_conn' });
    users.setHealth('127.0.0.1:3003', false, 'refused');
    users.setDraining('127.0.0.1:3004', true);
    const held = users.pick(request)!;
    const retry = users.pick(request, new Set([held.backend.id]))!;
    const seq = users.lastPick;
    const snapshot = new PickSnapshot();
    assert.ok(users.copyPick(seq, snapshot));
    const view = pickView(snapshot);
    assert.equal(view.policy, 'least_conn');
    assert.equal(view.preferred, false);
    assert.deepEqual(
      view.candidates.map((c) => [c.backend, c.state, c.inflight, c.weight, c.chosen]),
      [
        ['127.0.0.1:3001', held.backend.id === '127.0.0.1:3001' ? 'tried' : 'usable', held.backend.id === '127.0.0.1:3001' ? 1 : 0, 1, retry.backend.id === '127.0.0.1:3001'],
        ['127.0.0.1:3002', held.backend.id === '127.0.0.1:3002' ? 'tried' : 'usable', held.backend.id === '127.0.0.1:3002' ? 1 : 0, 3, retry.backend.id === '127.0.0.1:3002'],
        ['127.0.0.1:3003', 'unhealthy', 0, 1, false],
        ['127.0.0.1:3004', 'draining', 0, 1, false],
      ],
    );
    assert.match(candidatesLine(snapshot), /^\*?127\.0\.0\.1:3001 (usable|tried) \d\/1, \*?127\.0\.0\.1:3002 (usable|tried) \d\/3, 127\.0\.0\.1:3003 unhealthy 0\/1, 127\.0\.0\.1:3004 draining 0\/1$/);
  });

  it('a pick that finds no usable backend is recorded with none chosen', () => {
    const users = pool();
    for (const id of ['127.0.0.1:3001', '127.0.0.1:3002', '127.0.0.1:3003', '127.0.0.1:3004']) users.setDraining(id, true);
    assert.equal(users.pick(request), undefined);
    const snapshot = new PickSnapshot();
    assert.ok(users.copyPick(users.lastPick, snapshot));
    assert.equal(snapshot.chosen, -1);
    assert.deepEqual(pickView(snapshot).candidates.map((c) => c.state), ['draining', 'draining', 'draining', 'draining']);
  });

  it('a preferred (sticky) backend is marked as such', () => {
    const users = pool();
    const lease = users.pick({ ...request, preferredBackend: '127.0.0.1:3003' })!;
    assert.equal(lease.backend.id, '127.0.0.1:3003');
    const snapshot = new PickSnapshot();
    assert.ok(users.copyPick(users.lastPick, snapshot));
    assert.equal(snapshot.preferred, true);
    assert.equal(snapshot.backends[snapshot.chosen].id, '127.0.0.1:3003');
  });

  it('an entry overwritten by PICK_LOG_SIZE later picks, or one never made, reads as absent', () => {
    const users = pool();
    const snapshot = new PickSnapshot();
    assert.equal(users.copyPick(0, snapshot), false);
    assert.equal(users.copyPick(1, snapshot), false, 'no pick yet');
    users.pick(request)!.release('success');
    const first = users.lastPick;
    for (let i = 0; i < PICK_LOG_SIZE - 1; i++) users.pick(request)!.release('success');
    assert.ok(users.copyPick(first, snapshot), 'still there after PICK_LOG_SIZE - 1 later picks');
    users.pick(request)!.release('success');
    assert.equal(users.copyPick(first, snapshot), false, 'overwritten by the next');
  });
});

describe('Pool.preferenceOrder', () => {
  it('weighted round robin: the heavier usable backend first, unusable ones left out, no turn taken', () => {
    const users = pool({ balance: 'weighted_round_robin' });
    users.setHealth('127.0.0.1:3003', false, 'refused');
    const order = users.preferenceOrder(request);
    assert.notEqual(order, 'unsupported');
    assert.deepEqual((order as { id: string }[]).map((b) => b.id), ['127.0.0.1:3002', '127.0.0.1:3001', '127.0.0.1:3004']);
    assert.equal(users.pick(request)!.backend.id, '127.0.0.1:3002', 'explaining moved nothing');
  });

  it('round robin: from the next turn on', () => {
    const users = pool();
    users.pick(request)!.release('success');
    assert.deepEqual((users.preferenceOrder(request) as { id: string }[]).map((b) => b.id), ['127.0.0.1:3002', '127.0.0.1:3003', '127.0.0.1:3004', '127.0.0.1:3001']);
  });

  it('least_conn: by in-flight requests per unit of weight', () => {
    const users = pool({ balance: 'least_conn' });
    const leases = [users.pick(request, new Set(['127.0.0.1:3002', '127.0.0.1:3003', '127.0.0.1:3004']))!, users.pick(request, new Set(['127.0.0.1:3002', '127.0.0.1:3004']))!];
    assert.deepEqual(leases.map((l) => l.backend.id), ['127.0.0.1:3001', '127.0.0.1:3003']);
    const order = (users.preferenceOrder(request) as { id: string }[]).map((b) => b.id);
    assert.deepEqual(order.slice(0, 2).sort(), ['127.0.0.1:3002', '127.0.0.1:3004'], 'the idle ones first');
    assert.deepEqual(order.slice(2).sort(), ['127.0.0.1:3001', '127.0.0.1:3003']);
  });
});
