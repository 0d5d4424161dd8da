// The admin view of pools with workers: the primary's verdicts, the workers' traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackendStatus, PoolStatus } from '../pool/index.ts';
import { joinPoolStatus } from './pool-view.ts';

const backend = (id: string, state: BackendStatus['state'], inflight = 0, extra: Partial<BackendStatus> = {}): BackendStatus => ({ id, weight: 1, effective_weight: 1, state, inflight, ejections: 0, ...extra });
const pool = (backends: BackendStatus[]): PoolStatus => ({ name: 'app', balance: 'round_robin', usable: backends.filter((b) => b.state === 'healthy').length, backends });

test('in flight and ejections add up over workers; health and drains stay the primary verdicts', () => {
  const primary = [pool([backend('a', 'healthy'), backend('b', 'draining'), backend('c', 'unhealthy')])];
  const one = [pool([backend('a', 'healthy', 2), backend('b', 'draining', 1), backend('c', 'unhealthy')])];
  const two = [pool([backend('a', 'ejected', 1, { ejections: 1, ejected_until: 5000 }), backend('b', 'draining', 3), backend('c', 'unhealthy')])];
  const [joined] = joinPoolStatus(primary, [one, two]);
  assert.deepEqual(
    joined.backends.map(({ id, state, inflight, ejections }) => ({ id, state, inflight, ejections })),
    [
      { id: 'a', state: 'ejected', inflight: 3, ejections: 1 },
      { id: 'b', state: 'draining', inflight: 4, ejections: 0 },
      { id: 'c', state: 'unhealthy', inflight: 0, ejections: 0 },
    ],
  );
  assert.equal(joined.backends[0].ejected_until, 5000);
  assert.equal(joined.usable, 0);
  assert.deepEqual(joinPoolStatus(primary, []), primary, 'no worker answered: the primary view as is');
});
