import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retriesSchema } from '../config/index.ts';
import { RetryBudget, compileRetryPolicy, MIN_RETRY_CONCURRENCY, R_CONNECT_ERROR, R_RESET, R_TIMEOUT } from './retry-policy.ts';

test('compileRetryPolicy: kinds as bits, statuses as numbers, defaults from the schema', () => {
  const defaults = compileRetryPolicy(retriesSchema.parse({}));
  assert.equal(defaults.attempts, 2);
  assert.equal(defaults.on, R_CONNECT_ERROR | R_RESET);
  assert.deepEqual(defaults.statuses, []);
  assert.deepEqual([...defaults.methods], ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
  assert.equal(defaults.perTryTimeout, -1);
  const custom = compileRetryPolicy(retriesSchema.parse({ attempts: 1, on: ['timeout', '502', 503], budget_percent: 50, per_try_timeout: '250ms' }));
  assert.equal(custom.on, R_TIMEOUT);
  assert.deepEqual(custom.statuses, [502, 503]);
  assert.equal(custom.budget, 0.5);
  assert.equal(custom.perTryTimeout, 250);
});

test('RetryBudget: at least the minimum, then budget × recent requests; released retries free room', () => {
  const budget = new RetryBudget();
  let now = 10_000;
  for (let i = 0; i < MIN_RETRY_CONCURRENCY; i++) assert.equal(budget.tryAcquire(now, 0.2), true);
  assert.equal(budget.tryAcquire(now, 0.2), false, 'no traffic: only the minimum');
  budget.release();
  assert.equal(budget.tryAcquire(now, 0.2), true);
  for (let i = 0; i < 100; i++) budget.request(now);
  // 20% of 100 recent requests: 20 in flight
  let granted = MIN_RETRY_CONCURRENCY;
  while (budget.tryAcquire(now, 0.2)) granted++;
  assert.equal(granted, 20);
  // the window moves on: 1 s later the previous second still counts, 2 s later it does not
  now += 1000;
  assert.equal(budget.tryAcquire(now, 0.2), false);
  now += 2500;
  for (let i = 0; i < 20; i++) budget.release();
  assert.equal(budget.inFlight, 0);
  let quiet = 0;
  while (budget.tryAcquire(now, 0.2)) quiet++;
  assert.equal(quiet, MIN_RETRY_CONCURRENCY);
});
