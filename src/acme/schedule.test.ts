import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, keepable, maxBackoffMs, renewalTime } from './schedule.ts';

const day = 86_400_000;

test('renewal at two thirds of the lifetime, or renew_before ahead of the end', () => {
  assert.equal(renewalTime(0, 90 * day), 60 * day);
  assert.equal(renewalTime(1000, 1000 + 30_000), 21_000);
  assert.equal(renewalTime(0, 90 * day, 7 * day), 83 * day);
  // renew_before at half the lifetime or more would order again at once: two thirds instead
  assert.equal(renewalTime(0, 6 * day, 30 * day), 4 * day);
  assert.equal(renewalTime(0, 6 * day, 3 * day), 4 * day);
});

test('backoff doubles from 5 s and stops at 6 h', () => {
  assert.deepEqual([1, 2, 3, 4].map(backoffMs), [5_000, 10_000, 20_000, 40_000]);
  assert.equal(backoffMs(40), maxBackoffMs);
});

test('a stored certificate is kept only for the same names and before its renewal time', () => {
  const stored = { hosts: ['a.test', '*.a.test'], notBefore: 0, notAfter: 90 * day };
  assert.equal(keepable(stored, ['*.a.test', 'a.test'], 59 * day), true);
  assert.equal(keepable(stored, ['a.test', '*.a.test'], 61 * day), false);
  assert.equal(keepable(stored, ['a.test'], day), false);
  assert.equal(keepable(stored, ['a.test', '*.a.test', 'b.test'], day), false);
  assert.equal(keepable(undefined, ['a.test'], day), false);
});
