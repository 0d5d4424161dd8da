// rate_limit with a fake clock: the bucket admits `burst` then one per interval, the 429 carries
// Retry-After and the draft's fields, keys pick buckets, workers leasing from one primary admit one budget,
// and a failing store gives the configured fail mode.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rateLimitFilterSchema } from '../../../config/index.ts';
import { FlatWriter, type FilterEnv, type LocalResponse, type RequestVerdict } from '../index.ts';
import { fakeContext, type FakeContext } from '../../../../test/support/filter-kit.ts';
import { rateLimitFilter } from './index.ts';
import { compilePolicy, take, type Take } from './gcra.ts';
import { LeaseClient, LeaseServer, type LeaseChannel, type RateLeaseReply } from './lease.ts';
import { StoreError, type RateStore } from './store.ts';
import { bearerClaim } from './jwt-claim.ts';

class Clock {
  ms = 1_000_000;
  now = (): number => this.ms;
}

function fakeEnv(clock: Clock, services = new Map<string, unknown>()) {
  const counts = new Map<string, number>();
  const warnings: string[] = [];
  const env: FilterEnv = {
    now: clock.now,
    baseDir: '/',
    dataDir: '/',
    scope: 'web',
    shared: <T>(key: string, make: () => T): T => {
      if (!services.has(key)) services.set(key, make());
      return services.get(key) as T;
    },
    warn: (message) => warnings.push(message),
    stats: () => ({ count: (event, n = 1) => counts.set(event, (counts.get(event) ?? 0) + n), observe: () => {} }),
  };
  return { env, counts, warnings, services };
}

function context(overrides: { clientAddress?: string; routeName?: string; headers?: Record<string, string>; cookies?: Record<string, string> } = {}): FakeContext {
  const headers = { ...overrides.headers };
  if (overrides.cookies !== undefined) headers.cookie = Object.entries(overrides.cookies).map(([name, value]) => `${name}=${value}`).join('; ');
  return fakeContext({ clientAddress: overrides.clientAddress, routeName: overrides.routeName ?? 'api', headers });
}

const build = (settings: unknown, env: FilterEnv) => rateLimitFilter.create(rateLimitFilterSchema.parse(settings), env);

const status = (verdict: RequestVerdict): number => (verdict === undefined ? 200 : verdict.status);
const field = (answer: LocalResponse, name: string): string | undefined => {
  const at = answer.headers.indexOf(name);
  return at < 0 ? undefined : answer.headers[at + 1];
};

describe('rate_limit schema', () => {
  it('parses rates and keys, and refuses what it cannot honour', () => {
    const parsed = rateLimitFilterSchema.parse({ rate: '6000/m', key: 'header:X-Api-Key' });
    assert.deepEqual(parsed.rate, { count: 6000, periodMs: 60_000 });
    assert.deepEqual(parsed.key, { kind: 'header', name: 'x-api-key' });
    assert.equal(parsed.store, 'local');
    for (const bad of [{}, { rate: '100' }, { rate: '0/s' }, { rate: '10/w' }, { rate: '1/s', key: 'query:x' }, { rate: '1/s', store: 'redis' }, { rate: '1/s', redis: 'redis://x:1' }, { rate: '1/s', burst: 0 }, { rate: '1/s', zone: 'a b' }, { rate: '1/s', store: 'redis', redis: 'http://x' }]) {
      assert.equal(rateLimitFilterSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });
});

describe('GCRA bucket', () => {
  it('admits burst at once, then one token per interval', () => {
    const policy = compilePolicy(10, 1000, 5);
    const out: Take = { granted: 0, remaining: 0, resetMs: 0, retryMs: 0 };
    let tat: number | undefined;
    for (let i = 0; i < 5; i++) {
      tat = take(tat, 0, 1, policy, out);
      assert.equal(out.granted, 1);
      assert.equal(out.remaining, 4 - i);
    }
    tat = take(tat, 0, 1, policy, out);
    assert.equal(out.granted, 0);
    assert.equal(out.retryMs, 100);
    tat = take(tat, 100, 1, policy, out);
    assert.equal(out.granted, 1);
    assert.equal(out.remaining, 0);
    assert.equal(out.resetMs, 500);
    take(tat, 10_000, 3, policy, out);
    assert.equal(out.granted, 3, 'a long-idle bucket is full, not fuller');
    assert.equal(out.remaining, 2);
  });
});

describe('rate_limit filter', () => {
  it('admits burst, answers 429 with Retry-After and the RateLimit fields, refills at the rate', () => {
    const clock = new Clock();
    const { env, counts } = fakeEnv(clock);
    const filter = build({ rate: '2/s', burst: 3 }, env);
    const contexts = [0, 1, 2, 3].map(() => context());
    const verdicts = contexts.map((ctx) => filter.onRequest!(ctx) as RequestVerdict);
    assert.deepEqual(verdicts.map(status), [200, 200, 200, 429]);
    assert.deepEqual(contexts.map((ctx) => ctx.reason), ['', '', '', 'rate_limit:limited'], 'the access log says why');
    const refused = verdicts[3] as LocalResponse;
    assert.equal(field(refused, 'retry-after'), '1');
    assert.equal(field(refused, 'ratelimit-policy'), '"api";q=2;w=1');
    assert.equal(field(refused, 'ratelimit'), '"api";r=0;t=1');
    clock.ms += 500;
    assert.equal(status(filter.onRequest!(context()) as RequestVerdict), 200);
    assert.equal(status(filter.onRequest!(context()) as RequestVerdict), 429);
    assert.deepEqual([counts.get('allowed'), counts.get('limited')], [4, 2]);
  });

  it('puts RateLimit and RateLimit-Policy on admitted responses', () => {
    const clock = new Clock();
    const filter = build({ rate: '10/m', zone: 'login' }, fakeEnv(clock).env);
    const ctx = context();
    assert.equal(filter.onRequest!(ctx), undefined);
    const fields: string[] = [];
    filter.onResponse!(ctx, new FlatWriter(fields), { status: 200, header: () => undefined, fields: () => [], backend: 'b' });
    assert.deepEqual(fields, ['ratelimit-policy', '"login";q=10;w=60', 'ratelimit', '"login";r=9;t=6']);
  });

  it('two entries on one route each add their policy to the fields', () => {
    const { env } = fakeEnv(new Clock());
    const perClient = build({ rate: '10/s', zone: 'per-client' }, env);
    const perRoute = build({ rate: '100/s', key: 'route', zone: 'per-route' }, env);
    const ctx = context();
    assert.equal(perClient.onRequest!(ctx), undefined);
    assert.equal(perRoute.onRequest!(ctx), undefined);
    const fields: string[] = [];
    const view = { status: 200, header: () => undefined, fields: () => [], backend: 'b' };
    perClient.onResponse!(ctx, new FlatWriter(fields), view);
    perRoute.onResponse!(ctx, new FlatWriter(fields), view);
    assert.deepEqual(fields, ['ratelimit-policy', '"per-client";q=10;w=1', 'ratelimit', '"per-client";r=9;t=1', 'ratelimit-policy', '"per-route";q=100;w=1', 'ratelimit', '"per-route";r=99;t=1']);
  });

  it('keys: one bucket per client address, header, cookie, claim; one for the route; none without the key', () => {
    const clock = new Clock();
    const { env, counts } = fakeEnv(clock);
    const byIp = build({ rate: '1/m' }, env);
    assert.equal(status(byIp.onRequest!(context({ clientAddress: '192.0.2.1' })) as RequestVerdict), 200);
    assert.equal(status(byIp.onRequest!(context({ clientAddress: '192.0.2.2' })) as RequestVerdict), 200);
    assert.equal(status(byIp.onRequest!(context({ clientAddress: '192.0.2.1' })) as RequestVerdict), 429);

    const byHeader = build({ rate: '1/m', key: 'header:x-api-key' }, env);
    assert.equal(status(byHeader.onRequest!(context({ headers: { 'x-api-key': 'a' } })) as RequestVerdict), 200);
    assert.equal(status(byHeader.onRequest!(context({ headers: { 'x-api-key': 'b' } })) as RequestVerdict), 200);
    assert.equal(status(byHeader.onRequest!(context({ headers: { 'x-api-key': 'a' } })) as RequestVerdict), 429);
    assert.equal(byHeader.onRequest!(context()), undefined, 'no key: not limited');
    assert.equal(counts.get('unkeyed'), 1);

    const byCookie = build({ rate: '1/m', key: 'cookie:sid' }, env);
    assert.equal(status(byCookie.onRequest!(context({ cookies: { sid: 's1' } })) as RequestVerdict), 200);
    assert.equal(status(byCookie.onRequest!(context({ cookies: { sid: 's1' } })) as RequestVerdict), 429);

    const jwt = (sub: string) => `Bearer e30.${Buffer.from(JSON.stringify({ sub })).toString('base64url')}.sig`;
    const byClaim = build({ rate: '1/m', key: 'claim:sub' }, env);
    assert.equal(status(byClaim.onRequest!(context({ headers: { authorization: jwt('alice') } })) as RequestVerdict), 200);
    assert.equal(status(byClaim.onRequest!(context({ headers: { authorization: jwt('bob') } })) as RequestVerdict), 200);
    assert.equal(status(byClaim.onRequest!(context({ headers: { authorization: jwt('alice') } })) as RequestVerdict), 429);

    const byRoute = build({ rate: '1/m', key: 'route', zone: 'shared' }, env);
    assert.equal(status(byRoute.onRequest!(context({ clientAddress: '198.51.100.1', routeName: 'a' })) as RequestVerdict), 200);
    assert.equal(status(byRoute.onRequest!(context({ clientAddress: '198.51.100.2', routeName: 'b' })) as RequestVerdict), 429, 'one zone across routes');
  });

  it('filters built twice for one route (HTTP/1.1 runtime, HTTP/2 dispatch, reload) share the buckets', () => {
    const clock = new Clock();
    const { env } = fakeEnv(clock);
    const first = build({ rate: '1/m' }, env);
    const second = build({ rate: '1/m' }, env);
    assert.equal(first.onRequest!(context()), undefined);
    assert.equal(status(second.onRequest!(context()) as RequestVerdict), 429);
  });

  it('a failing store: allow admits without fields, deny answers 503; each counted', async () => {
    const clock = new Clock();
    const failing: RateStore = { kind: 'redis', decide: () => Promise.reject(new StoreError('down')) };
    const services = new Map<string, unknown>([['rate_limit:redis:redis://127.0.0.1:1', failing]]);
    const { env, counts } = fakeEnv(clock, services);
    const open = build({ rate: '1/s', store: 'redis', redis: 'redis://127.0.0.1:1' }, env);
    const closed = build({ rate: '1/s', store: 'redis', redis: 'redis://127.0.0.1:1', on_store_error: 'deny' }, env);
    assert.equal(await open.onRequest!(context()), undefined);
    const denied = (await closed.onRequest!(context())) as LocalResponse;
    assert.equal(denied.status, 503);
    assert.equal(field(denied, 'retry-after'), '1');
    assert.equal(counts.get('store_error'), 2);
  });
});

describe('token leases (store: local with workers)', () => {
  /** Workers leasing from one server over an in-memory channel that answers after a turn of the loop. */
  function workers(n: number, clock: Clock): LeaseClient[] {
    const server = new LeaseServer(clock.now);
    return Array.from({ length: n }, () => {
      let listener: (reply: RateLeaseReply) => void = () => {};
      const channel: LeaseChannel = {
        send: (request) => setImmediate(() => listener(server.answer(request))),
        onReply: (l) => {
          listener = l;
        },
      };
      return new LeaseClient(channel, clock.now);
    });
  }

  it('N workers together admit one budget, never more', async () => {
    const clock = new Clock();
    const policy = compilePolicy(1, 60_000, 40);
    const clients = workers(4, clock);
    let admitted = 0;
    const decisions: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const decided = clients[i % 4].decide('api:ip:192.0.2.7', policy);
      decisions.push(Promise.resolve(decided).then((result) => void (admitted += result.granted)));
    }
    await Promise.all(decisions);
    // batch ceil(40/16) = 3: at most (workers - 1) × (batch - 1) = 6 tokens stranded in other workers' leases
    assert.ok(admitted <= 40 && admitted >= 34, `admitted ${admitted}`);
  });

  it('a refusal is remembered until the next token is due: no IPC per refused request', async () => {
    const clock = new Clock();
    const server = new LeaseServer(clock.now);
    let sent = 0;
    let listener: (reply: RateLeaseReply) => void = () => {};
    const client = new LeaseClient(
      {
        send: (request) => {
          sent++;
          setImmediate(() => listener(server.answer(request)));
        },
        onReply: (l) => (listener = l),
      },
      clock.now,
    );
    const policy = compilePolicy(1, 1000, 1);
    assert.equal((await client.decide('k', policy)).granted, 1);
    assert.equal((await client.decide('k', policy)).granted, 0);
    const asked = sent;
    for (let i = 0; i < 50; i++) assert.equal((client.decide('k', policy) as Take).granted, 0);
    assert.equal(sent, asked);
    clock.ms += 1000;
    assert.equal((await client.decide('k', policy)).granted, 1);
  });

  it('a primary that does not answer is a store error', async () => {
    const clock = new Clock();
    const client = new LeaseClient({ send: () => {}, onReply: () => {} }, clock.now);
    await assert.rejects(Promise.resolve(client.decide('k', compilePolicy(1, 1000, 1))), StoreError);
  });
});

describe('bearer claims (key: claim:NAME)', () => {
  it('reads string and number claims; anything malformed is no key', () => {
    const token = (payload: unknown) => `Bearer x.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.y`;
    assert.equal(bearerClaim(token({ sub: 'alice' }), 'sub'), 'alice');
    assert.equal(bearerClaim(token({ tenant: 42 }), 'tenant'), '42');
    assert.equal(bearerClaim(token({ sub: { a: 1 } }), 'sub'), undefined);
    assert.equal(bearerClaim(token({}), 'constructor'), undefined);
    for (const bad of [undefined, 'Basic abc', 'Bearer abc', 'Bearer a.b', 'Bearer a.!!!.c', 'Bearer a.b.c.d', `Bearer a.${'x'.repeat(9000)}.c`]) assert.equal(bearerClaim(bad, 'sub'), undefined, bad);
  });
});
