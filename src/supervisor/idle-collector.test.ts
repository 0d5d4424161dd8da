import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleCollector, loopUtilization } from './idle-collector.ts';
import { systemClock } from '../core/index.ts';

function collector(loads: number[]): { idle: IdleCollector; collected: () => number } {
  let collected = 0;
  const idle = new IdleCollector({ clock: systemClock, collect: () => collected++, utilization: () => loads.shift() ?? 0 });
  return { idle, collected: () => collected };
}

test('collects once when the loop falls idle after load, never while busy, never twice without load between', () => {
  const { idle, collected } = collector([0.9, 0.5, 0.03, 0.005, 0.0, 0.0, 0.2, 0.001]);
  idle.sample(); // busy
  idle.sample(); // busy
  idle.sample(); // in between: neither load nor idle
  assert.equal(collected(), 0);
  idle.sample(); // idle after load
  assert.equal(collected(), 1);
  idle.sample();
  idle.sample(); // still idle: nothing more to give back
  assert.equal(collected(), 1);
  idle.sample(); // load again
  idle.sample(); // idle again
  assert.equal(collected(), 2);
  assert.equal(idle.collections, 2);
});

test('an idle worker that never saw load is never collected', () => {
  const { idle, collected } = collector([0, 0, 0.002, 0.04, 0]);
  for (let i = 0; i < 5; i++) idle.sample();
  assert.equal(collected(), 0);
});

test('loopUtilization measures the loop since its previous call', async () => {
  const utilization = loopUtilization();
  // keep the loop busy for 50 ms in one task (utilization counts finished loop iterations)
  await new Promise<void>((resolve) =>
    setImmediate(() => {
      const end = performance.now() + 50;
      while (performance.now() < end);
      resolve();
    }),
  );
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(utilization() > 0.5);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(utilization() < 0.5);
});
