import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ticketKeysFor } from './session-resumption.ts';

describe('ticket keys', () => {
  const seed = Buffer.alloc(32, 7);
  const hour = 3_600_000;

  it('are the same for every worker with the same seed within one period, and change with the period', () => {
    const t = 1_700_000_000_000 - (1_700_000_000_000 % (12 * hour));
    assert.equal(ticketKeysFor(seed, 12 * hour, t).length, 48);
    assert.deepEqual(ticketKeysFor(seed, 12 * hour, t), ticketKeysFor(seed, 12 * hour, t + 11 * hour));
    assert.notDeepEqual(ticketKeysFor(seed, 12 * hour, t), ticketKeysFor(seed, 12 * hour, t + 12 * hour));
    assert.notDeepEqual(ticketKeysFor(seed, 12 * hour, t), ticketKeysFor(Buffer.alloc(32, 8), 12 * hour, t));
  });
});
