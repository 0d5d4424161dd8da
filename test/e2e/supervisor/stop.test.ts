// Stopping the edge the way terminals, systemd (KillMode=control-group) and process managers do: a signal to
// the whole process group — the front process, the primary and its workers at once — through both launchers
// (Node 24 directly, and the shell's older `node` running bin/switchyard.cjs, which hands over to Node 24
// and stays in between). Every request in flight finishes, the group exits within shutdown_timeout (at once
// when idle), and a second signal during the drain does not kill anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { runSwitchyard, cliEntry, node24, projectRoot, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';
import { cleanupStack } from '../../support/cleanup.ts';
import { onePoolConfig } from './helpers.ts';

const defer = cleanupStack();

/** The shell's `node` (older than 24 on a machine like the CI's): the launcher's hand-off path. */
const shellNode = execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8', env: { PATH: '/usr/local/bin:/usr/bin:/bin' } }).trim();
const launchers: Record<string, string[]> = {
  'Node 24 directly': [node24, cliEntry],
  [`shell node ${execFileSync(shellNode, ['--version'], { encoding: 'utf8' }).trim()} through bin/switchyard.cjs`]: [shellNode, path.join(projectRoot, 'bin', 'switchyard.cjs')],
};

const inFlight = 40;
const shutdownTimeoutMs = 5_000;
const originDelayMs = 1_500;

let origin: EchoOrigin;
async function sharedOrigin(): Promise<EchoOrigin> {
  if (!origin) {
    origin = await startEchoOrigin({ name: 'slow' });
    defer(() => origin.close());
  }
  return origin;
}

const config = (backend: string, timeoutMs = shutdownTimeoutMs): string => onePoolConfig(backend, `shutdown_timeout: ${timeoutMs}ms\nworkers: 2`);

async function group(launcher: string[], timeoutMs = shutdownTimeoutMs): Promise<RunningSwitchyard> {
  const running = await runSwitchyard(config((await sharedOrigin()).address, timeoutMs), { launcher, detached: true });
  defer(async () => {
    try {
      process.kill(-running.process.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    return running.stop();
  });
  return running;
}

/** Whether any process of the group is still alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One request per connection (no pooling), resolving with the status or the error that cut it. */
function slowRequest(running: RunningSwitchyard): Promise<number | string> {
  return new Promise((resolve) => {
    const request = http.get(running.url('web', `/?delay=${originDelayMs}`), { agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode!));
      response.on('error', (err) => resolve(err.message));
    });
    request.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
  });
}

/** Starts `inFlight` slow requests and resolves once the origin holds all of them. */
async function loadUp(running: RunningSwitchyard): Promise<{ results: Promise<(number | string)[]> }> {
  const slow = await sharedOrigin();
  const before = slow.requests();
  const results = Promise.all(Array.from({ length: inFlight }, () => slowRequest(running)));
  const deadline = Date.now() + 10_000;
  while (slow.requests() - before < inFlight && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(slow.requests() - before, inFlight, 'every request reached the origin');
  // Wrapped: an async function returning the bare promise would wait for it.
  return { results };
}

/** Milliseconds from now until the front process exits, and its exit code. */
async function exitOf(running: RunningSwitchyard): Promise<{ ms: number; code: number | null; signal: string | null }> {
  const start = performance.now();
  return new Promise((resolve) => running.process.once('exit', (code, signal) => resolve({ ms: performance.now() - start, code, signal })));
}

/** Every request in flight completed, the front process exited 0 within shutdown_timeout, and no process is left. */
async function assertDrained(label: string, running: RunningSwitchyard, results: Promise<(number | string)[]>, exited: ReturnType<typeof exitOf>): Promise<void> {
  const [statuses, exit] = await Promise.all([results, exited]);
  const completed = statuses.filter((status) => status === 200).length;
  console.log(`${label} with ${inFlight} in flight: ${completed}/${inFlight} completed, exit after ${Math.round(exit.ms)} ms`);
  assert.equal(completed, inFlight, `cut: ${JSON.stringify(statuses.filter((status) => status !== 200))}`);
  assert.deepEqual([exit.code, exit.signal], [0, null]);
  assert.ok(exit.ms < shutdownTimeoutMs, `exit took ${exit.ms} ms`);
  assert.equal(groupAlive(running.process.pid!), false, 'no worker outlives the primary');
}

for (const [name, launcher] of Object.entries(launchers)) {
  test(`${name}: SIGTERM to the process group finishes all ${inFlight} requests in flight, then exits in time`, async () => {
    const running = await group(launcher);
    const { results } = await loadUp(running);
    const exited = exitOf(running);
    process.kill(-running.process.pid!, 'SIGTERM');
    await assertDrained(`${name}: group SIGTERM`, running, results, exited);
  });

  test(`${name}: SIGTERM to the front process alone finishes every request in flight too`, async () => {
    const running = await group(launcher);
    const { results } = await loadUp(running);
    const exited = exitOf(running);
    process.kill(running.process.pid!, 'SIGTERM');
    await assertDrained(`${name}: front-process SIGTERM`, running, results, exited);
  });

  test(`${name}: SIGINT to the group, then SIGINT and SIGTERM again during the drain, still finishes every request`, async () => {
    const running = await group(launcher);
    const { results } = await loadUp(running);
    const exited = exitOf(running);
    process.kill(-running.process.pid!, 'SIGINT');
    await running.waitForLine((line) => line.msg === 'shutting down: draining');
    process.kill(-running.process.pid!, 'SIGINT');
    process.kill(running.process.pid!, 'SIGTERM');
    process.kill(-running.process.pid!, 'SIGTERM');
    await assertDrained(`${name}: group SIGINT + repeated signals`, running, results, exited);
  });

  test(`${name}: after load, an idle edge exits at once on a group SIGTERM`, async () => {
    const running = await group(launcher);
    const statuses = await (await loadUp(running)).results;
    assert.ok(statuses.every((status) => status === 200));
    const exited = exitOf(running);
    process.kill(-running.process.pid!, 'SIGTERM');
    const exit = await exited;
    console.log(`${name}: idle group SIGTERM after load: exit after ${Math.round(exit.ms)} ms`);
    assert.deepEqual([exit.code, exit.signal], [0, null]);
    assert.ok(exit.ms < 1_000, `exit took ${exit.ms} ms`);
    assert.equal(groupAlive(running.process.pid!), false, 'no worker outlives the primary');
  });
}

test('a request longer than shutdown_timeout does not hold the exit: the group exits at the deadline', async () => {
  const running = await group(launchers['Node 24 directly'], 800);
  const slow = await sharedOrigin();
  const before = slow.requests();
  const cut = new Promise<number | string>((resolve) => {
    http.get(running.url('web', '/?delay=10000'), { agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode!));
    }).on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
  });
  while (slow.requests() === before) await new Promise((resolve) => setTimeout(resolve, 5));
  const exited = exitOf(running);
  process.kill(-running.process.pid!, 'SIGTERM');
  const exit = await exited;
  console.log(`shutdown_timeout 800 ms with a 10 s request in flight: exit after ${Math.round(exit.ms)} ms`);
  assert.equal(exit.code, 0);
  assert.ok(exit.ms >= 700 && exit.ms < 2_000, `exit took ${exit.ms} ms`);
  assert.notEqual(await cut, 200);
  assert.equal(groupAlive(running.process.pid!), false, 'no worker outlives the primary');
});
