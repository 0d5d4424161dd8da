// Checker logic (schedule, jitter, timeout, thresholds, transitions) on the fake clock, with a scripted
// probe registered the way any probe is. Real probes are tested on real sockets in test/e2e/health.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { healthSchema } from '../config/index.ts';
import { FakeClock } from '../core/index.ts';
import { HealthChecker } from './checker.ts';
import type { ProbeFactory, ProbeResult, ProbeTarget } from './types.ts';

type Script = (target: ProbeTarget, signal: AbortSignal) => ProbeResult | 'hang';

function harness(script: Script, extra: Record<string, unknown> = {}, random = () => 0.5) {
  const clock = new FakeClock();
  const calls: { id: string; at: number; signal: AbortSignal }[] = [];
  const transitions: string[] = [];
  const scripted: ProbeFactory = {
    type: 'tcp',
    create: () => ({
      check(target, signal) {
        calls.push({ id: target.id, at: clock.now(), signal });
        const result = script(target, signal);
        return result === 'hang' ? new Promise(() => {}) : Promise.resolve(result);
      },
    }),
  };
  const checker = new HealthChecker({
    pool: 'users',
    config: healthSchema.parse({ interval: '1s', timeout: '300ms', rise: 2, fall: 3, ...extra }),
    backends: [{ id: '127.0.0.1:1', host: '127.0.0.1', port: 1 }],
    onTransition: (pool, id, healthy, reason) => transitions.push(`${pool} ${id} ${healthy ? 'up' : 'down'} ${reason}`),
    clock,
    probes: new Map([['tcp', scripted]]),
    random,
  });
  /** Moves the fake clock in 10 ms steps, letting probe promises settle between steps. */
  const advance = async (ms: number) => {
    for (let elapsed = 0; elapsed < ms; elapsed += 10) {
      clock.advance(10);
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { clock, checker, calls, transitions, advance, start: clock.now() };
}

describe('HealthChecker (fake clock)', () => {
  it('goes down after fall failures and up after rise passes, reporting each transition once', async () => {
    let ok = true;
    const { checker, transitions, advance } = harness(() => (ok ? { ok: true, reason: 'connected' } : { ok: false, reason: 'connection refused' }));
    await checker.start();
    await advance(2_100);
    ok = false;
    await advance(2_000);
    assert.deepEqual(transitions, []);
    await advance(1_000);
    assert.deepEqual(transitions, ['users 127.0.0.1:1 down connection refused']);
    ok = true;
    await advance(1_000);
    assert.equal(transitions.length, 1);
    await advance(1_000);
    assert.deepEqual(transitions, ['users 127.0.0.1:1 down connection refused', 'users 127.0.0.1:1 up connected']);
    assert.deepEqual(checker.status().backends[0], { id: '127.0.0.1:1', healthy: true, reason: 'connected', successes: 2, failures: 0, last_check: checker.status().backends[0].last_check, transitions: { up: 1, down: 1 } });
    await checker.stop();
  });

  it('counts a probe that outlives timeout as a timeout, and aborts it', async () => {
    const { checker, calls, transitions, advance } = harness(() => 'hang');
    await checker.start();
    await advance(400);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].signal.aborted, true);
    assert.deepEqual(transitions, ['users 127.0.0.1:1 down timeout']);
    await checker.stop();
  });

  it('spaces probes by interval ± 10% from the start of the previous one', async () => {
    for (const [random, gap] of [[0, 900], [0.5, 1000], [0.99, 1100]] as const) {
      const { checker, calls, advance } = harness(() => ({ ok: true, reason: 'connected' }), {}, () => random);
      await checker.start();
      await advance(4_000);
      const gaps = calls.slice(1).map((call, index) => call.at - calls[index].at);
      for (const measured of gaps) assert.ok(Math.abs(measured - gap) <= 10, `random ${random}: gap ${measured}`);
      assert.ok(calls[0].at - 1_700_000_000_000 <= 100, 'first probe within 10% of an interval');
      await checker.stop();
    }
  });

  it('stops probing after stop() and aborts a running probe', async () => {
    const { checker, calls, advance } = harness(() => 'hang');
    await checker.start();
    await advance(100);
    assert.equal(calls.length, 1);
    await checker.stop();
    assert.equal(calls[0].signal.aborted, true);
    await advance(5_000);
    assert.equal(calls.length, 1);
  });

  it('keeps verdicts across update(); probes added backends, forgets removed ones', async () => {
    const { checker, calls, transitions, advance } = harness((target) => (target.port === 1 ? { ok: false, reason: 'status 500' } : { ok: true, reason: 'status 200' }), { type: 'tcp' });
    await checker.start();
    await advance(200);
    assert.deepEqual(transitions, ['users 127.0.0.1:1 down status 500']);
    checker.update(healthSchema.parse({ interval: '1s', timeout: '300ms' }), [
      { id: '127.0.0.1:1', host: '127.0.0.1', port: 1 },
      { id: '127.0.0.1:2', host: '127.0.0.1', port: 2 },
    ]);
    await advance(3_000);
    assert.equal(transitions.length, 1);
    assert.ok(calls.some((call) => call.id === '127.0.0.1:2'));
    checker.update(healthSchema.parse({ interval: '1s', timeout: '300ms' }), [{ id: '127.0.0.1:2', host: '127.0.0.1', port: 2 }]);
    const before = calls.filter((call) => call.id === '127.0.0.1:1').length;
    await advance(3_000);
    assert.equal(calls.filter((call) => call.id === '127.0.0.1:1').length, before);
    assert.deepEqual(checker.status().backends.map((backend) => backend.id), ['127.0.0.1:2']);
    await checker.stop();
  });

  it('starts a backend down when told, so a rebuilt checker agrees with its pool', async () => {
    const clock = new FakeClock();
    const transitions: boolean[] = [];
    const checker = new HealthChecker({
      pool: 'users',
      config: healthSchema.parse({ interval: '1s', rise: 1 }),
      backends: [{ id: '127.0.0.1:1', host: '127.0.0.1', port: 1 }],
      onTransition: (_pool, _id, healthy) => transitions.push(healthy),
      clock,
      probes: new Map([['tcp', { type: 'tcp', create: () => ({ check: async () => ({ ok: true, reason: 'connected' }) }) }]]),
      initialHealth: () => false,
    });
    assert.equal(checker.status().backends[0].healthy, false);
    await checker.start();
    for (let i = 0; i < 20 && transitions.length === 0; i++) {
      clock.advance(10);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(transitions, [true]);
    await checker.stop();
  });

  it('refuses a check type without a registered probe (grpc until the HTTP/2 component adds it)', () => {
    assert.throws(
      () => new HealthChecker({ pool: 'users', config: healthSchema.parse({ type: 'grpc' }), backends: [], onTransition: () => {} }),
      /pool users: no health probe for type grpc/,
    );
  });
});
