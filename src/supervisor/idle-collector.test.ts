import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { IdleCollector, loopUtilization, MEMORY_REDUCING_GC } from './idle-collector.ts';
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

test("the collection's own time does not count as load for the next interval", () => {
  let busyFor = 0; // loop time since the last utilization() read, as a fraction of the interval
  let collected = 0;
  const idle = new IdleCollector({
    clock: systemClock,
    collect: () => {
      collected++;
      busyFor += 0.1; // a 200 ms collection in a 2 s interval
    },
    utilization: () => {
      const used = busyFor;
      busyFor = 0;
      return used;
    },
  });
  busyFor = 0.5;
  idle.sample(); // load
  idle.sample(); // idle: collects
  idle.sample();
  idle.sample();
  assert.equal(collected, 1);
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

// What a worker's heap looks like after a burst: a few MB live, tens of MB of garbage in a grown heap.
// A plain gc() frees the objects but V8 keeps the pages; the idle collection's options give them back.
test('the idle collection gives back the pages a burst grew the heap by, where a plain gc() keeps them', async () => {
  const script = `
    const live = []; for (let i = 0; i < 50000; i++) live.push({ i, s: 'live' + i });
    const burst = () => { let g = []; for (let i = 0; i < 400000; i++) g.push({ i, s: 'burst' + i }); g = null; };
    burst(); gc();
    const plain = process.memoryUsage().heapTotal;
    burst(); gc(${JSON.stringify(MEMORY_REDUCING_GC)});
    const reduced = process.memoryUsage().heapTotal;
    console.log(JSON.stringify({ plain, reduced, live: live.length }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '-e', script]);
  const { plain, reduced } = JSON.parse(stdout) as { plain: number; reduced: number };
  assert.ok(reduced < plain / 2, `heap after the idle collection ${reduced} B, after a plain gc() ${plain} B`);
});
