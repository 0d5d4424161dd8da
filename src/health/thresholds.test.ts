import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HealthThresholds } from './thresholds.ts';
import { compileExpect } from './expect.ts';

const run = (thresholds: HealthThresholds, results: string) => [...results].map((result) => (thresholds.record(result === '+') ? (thresholds.healthy ? 'U' : 'D') : '.')).join('');

describe('HealthThresholds', () => {
  it('goes down after fall failures and up after rise passes', () => {
    assert.equal(run(new HealthThresholds(2, 3), '+--+---++-+'), '......D.U..');
  });

  it('marks an unproven backend down on its first failure', () => {
    assert.equal(run(new HealthThresholds(2, 3), '-++'), 'D.U');
  });

  it('can start down, needing rise passes', () => {
    assert.equal(run(new HealthThresholds(3, 1, false), '++-+++'), '.....U');
  });
});

describe('compileExpect', () => {
  it('matches ranges and lists', () => {
    const match = compileExpect('200-299,304');
    assert.deepEqual([199, 200, 299, 300, 304, 500].map(match), [false, true, true, false, true, false]);
    assert.deepEqual([200, 204, 201].map(compileExpect('200,204')), [true, true, false]);
  });
});
