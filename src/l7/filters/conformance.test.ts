// The registry's contract (every name the schema accepts builds a filter registered under that name) and
// the chain's: declared order, the listener's filters before the route's, the first local answer wins.
import { describe, it } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import assert from 'node:assert/strict';
import { middlewareNames, middlewareSchemas, type MiddlewareName } from '../../config/index.ts';
import { builtinFilters, buildChain, FlatWriter, type FilterFactory, type HttpFilter, type ResponseView } from './index.ts';
import { fakeContext, fakeEnv } from '../../../test/support/filter-kit.ts';

const context = fakeContext({ path: '/api/users', host: 'edge.test:8080', scheme: 'https', headers: { 'x-in': 'in' } });
const { env } = fakeEnv();
const view: ResponseView = { status: 200, backend: '127.0.0.1:1', header: () => undefined, fields: () => [] };

/**
 * Filters that cannot run without settings — what to verify tokens against, which service to ask — and
 * so refuse `{}` (a filter validating with nothing to check would be a key doing nothing); their smallest
 * settings, none of which touches a file or the network when the filter is built.
 */
const usersFile = path.join(mkdtempSync(path.join(tmpdir(), 'switchyard-conformance-')), 'users');
writeFileSync(usersFile, `alice:${bcrypt.hashSync('secret', 4)}\n`);
const needsSettings: Partial<Record<MiddlewareName, unknown>> = {
  jwt: { jwks_url: 'http://127.0.0.1:9/jwks.json' },
  forward_auth: { url: 'http://127.0.0.1:9/auth' },
  rate_limit: { rate: '10/s' },
  basic_auth: { users_file: usersFile },
  oidc: { issuer: 'https://id.example', client_id: 'edge', cookie_secret_file: 'cookie.secret' },
};

/** Filters whose empty settings are "no edits". */
const inertWhenEmpty: ReadonlySet<string> = new Set(['headers']);

for (const [name, factory] of builtinFilters()) {
  describe(`filter ${name} (conformance)`, () => {
    it('is registered under its config name, which the schema knows', () => {
      assert.equal(factory.name, name);
      assert.ok((middlewareNames as string[]).includes(name));
    });

    if (name in needsSettings) {
      it('refuses empty settings, and builds from its smallest ones without I/O', () => {
        const schema = middlewareSchemas[name as keyof typeof middlewareSchemas];
        assert.equal(schema.safeParse({}).success, false);
        const filter = (factory as FilterFactory).create(schema.parse(needsSettings[name as keyof typeof needsSettings]), env);
        assert.equal(filter.name, name);
      });
      return;
    }

    it('builds from its empty settings; its hooks give verdicts of the contract on a plain request', async () => {
      const settings = middlewareSchemas[name as keyof typeof middlewareSchemas].parse({});
      const filter = (factory as FilterFactory).create(settings, env);
      assert.equal(filter.name, name);
      const verdict = await filter.onRequest?.(context);
      assert.ok(verdict === undefined || (typeof verdict.status === 'number' && Array.isArray(verdict.headers)), `${name}: onRequest gives undefined or a LocalResponse`);
      const fields = ['x-a', '1'];
      filter.onUpstreamRequest?.(context, new FlatWriter(fields));
      const response = filter.onResponse?.(context, new FlatWriter(fields), view);
      assert.ok(response === undefined || typeof (response as { open?: unknown }).open === 'function' || typeof (response as { status?: unknown }).status === 'number', `${name}: onResponse gives undefined, a BodyTransform or a LocalResponse`);
      // filters whose empty settings mean "no edits" leave heads alone (the others act by design:
      // sticky pins, cache labels every response with Cache-Status, compress adds Vary)
      if (inertWhenEmpty.has(name)) {
        assert.equal(verdict, undefined);
        assert.deepEqual(fields, ['x-a', '1']);
      }
    });
  });
}

it('every name the schema accepts is registered', () => {
  const registry = builtinFilters();
  for (const name of middlewareNames) assert.ok(registry.has(name), name);
});

/** A filter that records its calls and may answer: only for the chain's contract (no such built-in). */
function probe(name: string, calls: string[], answer?: number): FilterFactory {
  return {
    name: 'headers',
    create: (): HttpFilter => ({
      name,
      onRequest: () => {
        calls.push(`${name}.request`);
        return answer === undefined ? undefined : { status: answer, headers: ['x-by', name], body: `${name} says no\n` };
      },
      onUpstreamRequest: (_ctx, head) => {
        calls.push(`${name}.upstream`);
        head.add('x-trail', name);
      },
      onResponse: (_ctx, head) => {
        calls.push(`${name}.response`);
        head.set('x-last', name);
        return undefined;
      },
    }),
  };
}

/** A registry whose one name builds the given probes in turn, so one chain can hold several. */
function sequence(factories: FilterFactory[]): Map<string, FilterFactory> {
  let built = 0;
  return new Map([['headers', { name: 'headers', create: (settings, filterEnv) => factories[built++].create(settings, filterEnv) } as FilterFactory]]);
}

describe('filter chain', () => {
  const entry = { name: 'headers' as const, settings: {} };

  it('is null without middleware', () => {
    assert.equal(buildChain(builtinFilters(), env, undefined, undefined), null);
    assert.equal(buildChain(builtinFilters(), env, [], []), null);
  });

  it('runs the listener filters, then the route filters, in declared order on every phase', () => {
    const calls: string[] = [];
    const chain = buildChain(sequence([probe('listener', calls), probe('route', calls)]), env, [entry], [entry])!;
    assert.deepEqual(chain.names, ['listener', 'route']);
    assert.equal(chain.onRequest(context), undefined);
    const up = ['x-trail', 'client'];
    chain.onUpstreamRequest(context, new FlatWriter(up));
    const down: string[] = [];
    chain.onResponse(context, new FlatWriter(down), view);
    assert.deepEqual(up, ['x-trail', 'client', 'x-trail', 'listener', 'x-trail', 'route']);
    assert.deepEqual(down, ['x-last', 'route']);
    assert.deepEqual(calls, ['listener.request', 'route.request', 'listener.upstream', 'route.upstream', 'listener.response', 'route.response']);
  });

  it('short-circuits: the first filter that answers wins, the later ones do not run, the earlier ones see its answer', () => {
    const calls: string[] = [];
    const chain = buildChain(sequence([probe('first', calls), probe('second', calls, 403), probe('third', calls, 500)]), env, [entry], [entry, entry])!;
    const answer = chain.onRequest(context);
    assert.deepEqual(answer, { status: 403, headers: ['x-by', 'second', 'x-last', 'first'], body: 'second says no\n' });
    assert.deepEqual(calls, ['first.request', 'second.request', 'first.response']);
  });

  it('runs an earlier filter\'s body transform over a later filter\'s local answer (the answer is then a promise)', async () => {
    const upper: FilterFactory = {
      name: 'headers',
      create: () => ({
        name: 'upper',
        onResponse: (_ctx, head, response) => {
          head.set('x-length-seen', response.header('content-length') ?? 'none');
          return { keepsLength: false, open: (next) => ({ write: (chunk) => next.write(Buffer.from(chunk.toString().toUpperCase())), end: () => setImmediate(() => next.end()) }) };
        },
      }),
    };
    const chain = buildChain(sequence([upper, probe('answers', [], 429)]), env, [entry], [entry])!;
    const answer = chain.onRequest(context);
    assert.ok(answer instanceof Promise);
    const settled = (await answer)!;
    assert.equal(settled.status, 429);
    assert.equal(settled.body.toString(), 'ANSWERS SAYS NO\n');
    assert.deepEqual(settled.headers, ['x-by', 'answers', 'x-length-seen', '16']);
  });

  it('refuses a name the registry lacks, listing the known ones', () => {
    assert.throws(() => buildChain(new Map(), env, [entry], undefined), /l7 filters: no filter registered as headers \(known: \)/);
  });
});
