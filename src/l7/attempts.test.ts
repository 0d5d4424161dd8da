import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retriesSchema } from '../config/index.ts';
import type { BalanceInput, Lease, LeaseOutcome } from '../pool/index.ts';
import { backends, input } from '../../test/support/balancer-kit.ts';
import type { UpstreamPool } from './types.ts';
import { ATTEMPT_GRPC, ATTEMPT_KEEPALIVE_RACE, Attempts, K_GRPC_UNAVAILABLE, K_REFUSED } from './attempts.ts';
import { MIN_RETRY_CONCURRENCY, NO_RETRY, REPLAY_LIMIT, RetryBudget, R_CONNECT_ERROR, R_RESET, R_TIMEOUT, compileRetryPolicy } from './retry-policy.ts';

/** A pool over real backends that leases the first one not tried, and records how each lease ended. */
class TestPool implements UpstreamPool {
  readonly name = 'test';
  readonly released: [string, LeaseOutcome][] = [];
  lastPick = 0;
  private readonly members = backends(1, 1, 1);
  pick(_input: BalanceInput, tried?: ReadonlySet<string>): Lease | undefined {
    this.lastPick++;
    const backend = this.members.find((b) => tried === undefined || !tried.has(b.id));
    if (backend === undefined) return undefined;
    return { backend, release: (outcome) => void this.released.push([backend.id, outcome]) };
  }
}

const times = { tConnected: 0, tFirstByte: 0 };
const client = input('10.0.0.1');

function begun(retries: object, method = 'GET', bodyLength = 0, flags = ATTEMPT_KEEPALIVE_RACE, budget = new RetryBudget()): { attempts: Attempts; pool: TestPool; budget: RetryBudget } {
  const pool = new TestPool();
  const attempts = new Attempts();
  attempts.begin(pool, client, compileRetryPolicy(retriesSchema.parse(retries)), budget, 1000, method, bodyLength, flags);
  attempts.start(attempts.pick()!, 1000);
  return { attempts, pool, budget };
}

test('a connect error goes to another backend whatever the method: the failed lease ends, its backend and times are noted', () => {
  const { attempts, pool, budget } = begun({ attempts: 2 }, 'POST', 10);
  assert.equal(attempts.backend, '127.0.0.1:3001');
  const next = attempts.retry(R_CONNECT_ERROR, 'connect_error', false, 1005, { tConnected: 0, tFirstByte: 0 });
  assert.equal(next?.backend.id, '127.0.0.1:3002');
  assert.deepEqual(pool.released, [['127.0.0.1:3001', 'connect_error']]);
  assert.deepEqual([...attempts.tried!], ['127.0.0.1:3001']);
  assert.equal(attempts.reason, 'connect_error');
  assert.equal(attempts.earlier?.[0].outcome, 'connect_error');
  assert.equal(attempts.earlier?.[0].tEnd, 1005);
  assert.equal(attempts.pickSeq, 2);
  assert.equal(budget.inFlight, 1, 'one retry of the budget held');
  assert.equal(budget.retries, 1);
  attempts.start(next!, 1005);
  assert.equal(attempts.tries, 2);
  attempts.end('success', 200);
  assert.deepEqual(pool.released[1], ['127.0.0.1:3002', 'success']);
  assert.equal(budget.inFlight, 0, 'the hold goes back when the request ends');
});

test('`on`, tries left and the methods decide; a refused retry keeps the lease for the answer', () => {
  const { attempts, pool } = begun({ attempts: 1, on: ['connect_error'] });
  assert.equal(attempts.retry(R_RESET, 'reset', true, 1001, times), undefined, 'reset is not in on');
  assert.equal(attempts.lease?.backend.id, '127.0.0.1:3001');
  assert.deepEqual(pool.released, []);
  const next = attempts.retry(R_CONNECT_ERROR, 'connect_error', false, 1001, times);
  attempts.start(next!, 1001);
  assert.equal(attempts.retry(R_CONNECT_ERROR, 'connect_error', false, 1002, times), undefined, 'attempts: 1 spent');
  // a POST that reached the upstream is never sent again; a GET is
  assert.equal(begun({ attempts: 2 }, 'POST').attempts.retry(R_RESET, 'reset', true, 1001, times), undefined);
  assert.notEqual(begun({ attempts: 2 }, 'GET').attempts.retry(R_RESET, 'reset', true, 1001, times), undefined);
  // a status listed in on
  const status = begun({ attempts: 2, on: [503] }).attempts;
  assert.equal(status.retriesOn(503), true);
  assert.equal(status.retriesOn(502), false);
  assert.notEqual(status.retry(503, 'http_5xx', true, 1001, times), undefined);
  assert.equal(status.reason, '503');
});

test('a sent body is resent only while every byte is kept (up to REPLAY_LIMIT)', () => {
  const { attempts } = begun({ attempts: 2 }, 'PUT', 6);
  attempts.keep(Buffer.from('abc'));
  attempts.keepRange(Buffer.from('xxdefxx'), 2, 5);
  const next = attempts.retry(R_RESET, 'reset', true, 1001, times);
  assert.notEqual(next, undefined);
  assert.deepEqual(attempts.takeResend()?.map(String), ['abc', 'def']);
  assert.equal(attempts.takeResend(), null, 'taken: the next try keeps what it writes');
  const big = begun({ attempts: 2 }, 'PUT', -1).attempts;
  big.keep(Buffer.alloc(REPLAY_LIMIT + 1));
  assert.equal(big.retry(R_RESET, 'reset', true, 1001, times), undefined, 'a body past the limit cannot be resent');
  assert.notEqual(big.retry(R_CONNECT_ERROR, 'connect_error', false, 1001, times), undefined, 'but a try that sent nothing can');
  // a method that may not be resent keeps nothing: a written body byte makes it final
  const post = begun({ attempts: 2, methods: ['GET'] }, 'POST', 3).attempts;
  post.keep(Buffer.from('abc'));
  assert.equal(post.takeResend(), null);
});

test('the budget bounds retries in flight, and a retry that finds no backend gives its hold back', () => {
  const budget = new RetryBudget();
  const holders: Attempts[] = [];
  for (let i = 0; i < MIN_RETRY_CONCURRENCY; i++) {
    const { attempts } = begun({ attempts: 2, budget_percent: 0 }, 'GET', 0, 0, budget);
    assert.notEqual(attempts.retry(R_RESET, 'reset', false, 1001, times), undefined);
    holders.push(attempts);
  }
  const over = begun({ attempts: 2, budget_percent: 0 }, 'GET', 0, 0, budget).attempts;
  assert.equal(over.retry(R_RESET, 'reset', false, 1001, times), undefined);
  assert.equal(budget.exhausted, 1);
  for (const attempts of holders) attempts.end('success', 200);
  assert.equal(budget.inFlight, 0);
  // every backend tried: the hold taken for this retry is released at once
  const { attempts } = begun({ attempts: 5 }, 'GET', 0, 0, budget);
  for (let i = 0; i < 2; i++) attempts.start(attempts.retry(R_RESET, 'reset', false, 1001, times)!, 1001);
  assert.equal(attempts.retry(R_RESET, 'reset', false, 1002, times), undefined);
  assert.equal(attempts.lease?.backend.id, '127.0.0.1:3003');
  attempts.end('reset', 0);
  assert.equal(budget.inFlight, 0);
});

test('the keep-alive race: one free resend on the same backend, for a resendable request on a reused connection', () => {
  const { attempts, pool, budget } = begun({ attempts: 0 }, 'GET', 0, ATTEMPT_KEEPALIVE_RACE);
  assert.equal(attempts.resendFresh(true, false, 1001, times), undefined, 'a new connection: the backend failed');
  const again = attempts.resendFresh(true, true, 1001, times);
  assert.equal(again?.backend.id, '127.0.0.1:3001');
  assert.deepEqual(pool.released, [], 'the lease goes on');
  attempts.start(again!, 1001);
  assert.equal(attempts.tries, 2);
  assert.equal(attempts.staleResends, 1);
  assert.equal(attempts.earlier?.[0].outcome, 'keepalive_race');
  assert.equal(attempts.resendFresh(true, true, 1002, times), undefined, 'once per request');
  assert.equal(budget.inFlight, 0, 'no budget');
  assert.equal(begun({ attempts: 0 }, 'POST').attempts.resendFresh(true, true, 1001, times), undefined);
  assert.equal(begun({ attempts: 0 }, 'GET').attempts.resendFresh(true, true, 1001, { tConnected: 1, tFirstByte: 1 }), undefined, 'a response byte came');
  // the free resend does not use up `attempts`
  const counted = begun({ attempts: 1 }).attempts;
  counted.start(counted.resendFresh(true, true, 1001, times)!, 1001);
  assert.notEqual(counted.retry(R_RESET, 'reset', true, 1002, times), undefined);
});

test('gRPC: once sent, only a refused stream or UNAVAILABLE before any response goes again', () => {
  const grpc = (): Attempts => begun({ attempts: 2, on: ['reset', 'connect_error'] }, 'POST', 5, ATTEMPT_GRPC).attempts;
  assert.equal(grpc().retry(R_RESET, 'reset', true, 1001, times), undefined);
  assert.notEqual(grpc().retry(R_CONNECT_ERROR, 'connect_error', false, 1001, times), undefined);
  const unavailable = grpc();
  unavailable.keep(Buffer.from('hello'));
  assert.notEqual(unavailable.retry(K_GRPC_UNAVAILABLE, 'http_5xx', true, 1001, times), undefined);
  assert.equal(unavailable.reason, 'grpc_unavailable');
  assert.deepEqual(unavailable.takeResend()?.map(String), ['hello']);
  // REFUSED_STREAM: the backend did no work, no budget is taken
  const budget = new RetryBudget();
  const refused = begun({ attempts: 1, on: [] }, 'POST', 0, ATTEMPT_GRPC, budget).attempts;
  assert.notEqual(refused.retry(K_REFUSED, 'reset', true, 1001, times), undefined);
  assert.equal(budget.inFlight, 0);
});

test('a refused stream no other backend takes goes once more to the same backend, any method, outside attempts and the budget', () => {
  const budget = new RetryBudget();
  const { attempts, pool } = begun({ attempts: 1, on: [] }, 'POST', 5, ATTEMPT_GRPC, budget);
  attempts.keep(Buffer.from('hello'));
  const again = attempts.resendRefused(true, 1001, times);
  assert.equal(again?.backend.id, '127.0.0.1:3001');
  assert.deepEqual(pool.released, [], 'the lease goes on');
  assert.equal(attempts.earlier?.[0].outcome, 'refused');
  assert.deepEqual(attempts.takeResend()?.map(String), ['hello'], 'the body that went goes again');
  attempts.start(again!, 1001);
  assert.equal(attempts.resendRefused(true, 1002, times), undefined, 'once per request');
  assert.equal(budget.inFlight, 0, 'no budget');
  attempts.keep(Buffer.from('hello'));
  assert.notEqual(attempts.retry(K_REFUSED, 'reset', true, 1002, times), undefined, 'attempts not used up');
  // a body that was not kept whole cannot go again
  const streamed = begun({ attempts: 1 }, 'POST', -1, ATTEMPT_GRPC).attempts;
  streamed.keep(Buffer.alloc(REPLAY_LIMIT + 1));
  assert.equal(streamed.resendRefused(true, 1001, times), undefined);
  assert.notEqual(streamed.resendRefused(false, 1001, times), undefined, 'nothing was sent yet');
});

test('per_try_timeout applies with `on: timeout` only, and never shortens a shorter whole timeout; gRPC keeps its deadline', () => {
  assert.equal(begun({ per_try_timeout: '200ms', on: ['timeout'] }).attempts.tryTimeout(1000), 200);
  assert.equal(begun({ per_try_timeout: '200ms', on: ['timeout'] }).attempts.tryTimeout(100), 100);
  assert.equal(begun({ per_try_timeout: '200ms', on: ['reset'] }).attempts.tryTimeout(1000), 1000);
  assert.equal(begun({ per_try_timeout: '200ms', on: ['timeout'] }, 'POST', 0, ATTEMPT_GRPC).attempts.perTry, -1);
  assert.equal(begun({ per_try_timeout: '200ms', on: ['timeout'] }).attempts.retry(R_TIMEOUT, 'timeout', true, 1001, times)?.backend.id, '127.0.0.1:3002');
});

test('the outcome passive ejection sees: a 5xx answer counts as http_5xx; an abandoned try leaves no backend in the log', () => {
  const { attempts, pool } = begun({});
  attempts.end('success', 502);
  assert.deepEqual(pool.released, [['127.0.0.1:3001', 'http_5xx']]);
  const abandoned = begun({});
  abandoned.attempts.abandon();
  assert.deepEqual(abandoned.pool.released, [['127.0.0.1:3001', 'cancelled']]);
  assert.equal(abandoned.attempts.backend, '');
  // a pool without `retries:` still resends after the keep-alive race, and counts nothing in a budget
  const none = new Attempts();
  const pool2 = new TestPool();
  none.begin(pool2, client, NO_RETRY, null, 0, 'GET', 0, ATTEMPT_KEEPALIVE_RACE);
  none.start(none.pick()!, 0);
  assert.equal(none.retry(R_CONNECT_ERROR, 'connect_error', false, 1, times), undefined);
  assert.notEqual(none.resendFresh(true, true, 1, times), undefined);
});

test('reset() gives a new request a clean state and leaves what the last one handed out alone', () => {
  const { attempts } = begun({ attempts: 2 });
  attempts.start(attempts.retry(R_RESET, 'reset', false, 1001, times)!, 1001);
  const tried = attempts.tried;
  const earlier = attempts.earlier;
  attempts.end('success', 200);
  attempts.reset();
  assert.equal(attempts.tries, 0);
  assert.equal(attempts.backend, '');
  assert.equal(attempts.tried, null);
  assert.equal(attempts.earlier, null);
  assert.equal(attempts.reason, '');
  assert.equal(attempts.pickSeq, 0);
  assert.equal(attempts.lease, null);
  assert.deepEqual([...tried!], ['127.0.0.1:3001']);
  assert.equal(earlier?.length, 1);
});
