import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inheritedExecArgv, workerRuntime } from './worker-runtime.ts';

const MB = 1024 * 1024;
test('semi_space becomes --max-semi-space-size in whole MB; 0 keeps V8 default; gc is exposed for the idle collector', () => {
  assert.deepEqual(workerRuntime({ allocator: 'system', semi_space: 4 * MB }).execArgv, ['--expose-gc', '--max-semi-space-size=4']);
  assert.deepEqual(workerRuntime({ allocator: 'system', semi_space: 0 }).execArgv, ['--expose-gc']);
  assert.deepEqual(workerRuntime({ allocator: 'system', semi_space: 4 * MB }).env, {});
});

test('allocator auto preloads the first jemalloc found, keeps an existing preload, and falls back to system', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sy-jemalloc-'));
  try {
    const lib = path.join(dir, 'libjemalloc.so.2');
    await writeFile(lib, '');
    const missing = path.join(dir, 'missing', 'libjemalloc.so.2');
    const found = workerRuntime({ allocator: 'auto', semi_space: 0 }, undefined, [missing, lib]);
    assert.equal(found.allocator, 'jemalloc');
    assert.equal(found.env.LD_PRELOAD, lib);
    assert.equal(workerRuntime({ allocator: 'auto', semi_space: 0 }, undefined, [lib], undefined).env.MALLOC_CONF, 'background_thread:true');
    assert.equal(workerRuntime({ allocator: 'auto', semi_space: 0 }, undefined, [lib], 'narenas:2').env.MALLOC_CONF, undefined, "the operator's MALLOC_CONF is inherited as it is");
    assert.equal(workerRuntime({ allocator: 'auto', semi_space: 0 }, '/opt/other.so', [lib]).env.LD_PRELOAD, `${lib}:/opt/other.so`);
    assert.equal(workerRuntime({ allocator: 'auto', semi_space: 0 }, '/opt/libjemalloc.so.2', [lib]).env.LD_PRELOAD, '/opt/libjemalloc.so.2');
    const none = workerRuntime({ allocator: 'auto', semi_space: 0 }, undefined, [missing]);
    assert.equal(none.allocator, 'system');
    assert.equal(none.env.LD_PRELOAD, undefined);
    assert.throws(() => workerRuntime({ allocator: 'jemalloc', semi_space: 0 }, undefined, [missing]), /runtime\.allocator: jemalloc was asked for, but libjemalloc\.so\.2 is not in .*apt-get install libjemalloc2/);
    assert.equal(workerRuntime({ allocator: 'system', semi_space: 0 }, undefined, [lib]).env.LD_PRELOAD, undefined);
    assert.equal(workerRuntime({ allocator: 'jemalloc', semi_space: 0 }, undefined, [lib]).env.LD_PRELOAD, lib);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("workers inherit the primary's node options but not the V8 flags bin/switchyard.cjs gave the primary alone", () => {
  const primary = ['--import=/tmp/hook.mjs', '--max-semi-space-size=1', '--max-opt=1'];
  assert.deepEqual(inheritedExecArgv(primary, '--max-semi-space-size=1 --max-opt=1'), ['--import=/tmp/hook.mjs']);
  assert.deepEqual(inheritedExecArgv(primary, undefined), primary, 'started some other way: everything is inherited');
});
