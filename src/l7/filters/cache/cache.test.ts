// The cache filter over hand-made requests and responses with a fake clock: what is stored and for how
// long, hits with Age and Cache-Status, Vary, coalescing, revalidation, stale answers, purges, the bound.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cacheFilterSchema, parseConfigText } from '../../../config/index.ts';
import { FlatWriter, FilterHost, builtinFilters, isLocal } from '../index.ts';
import type { BodySink, BodyTransform, FilterContext, HttpFilter, LocalResponse, ResponseVerdict, ResponseView } from '../types.ts';
import { cacheFilter, purgeCache } from './index.ts';
import { CacheRegistry, registryKey } from './store.ts';
import { fakeContext, type FakeContext } from '../../../../test/support/filter-kit.ts';

interface Kit {
  filter: HttpFilter;
  host: FilterHost;
  clock: { ms: number };
}

function kit(settings: unknown = {}): Kit {
  const clock = { ms: 1_000_000 };
  const host = new FilterHost({ registry: builtinFilters(), now: () => clock.ms });
  const filter = cacheFilter.create(cacheFilterSchema.parse(settings), host.env('/tmp', '/tmp'));
  return { filter, host, clock };
}

function request(method: string, path: string, headers: Record<string, string> = {}): FakeContext {
  const [bare, query = ''] = path.split('?');
  return fakeContext({ method, path: bare, query, host: 'Edge.test', routeName: 'r', headers });
}

function view(status: number, fields: string[]): ResponseView {
  return {
    status,
    backend: '127.0.0.1:1',
    header: (name) => {
      for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
      return undefined;
    },
    fields: () => fields.slice(),
  };
}

/** Runs the response side: the verdict, the head as edited, and the body through the transform. */
function respond(filter: HttpFilter, ctx: FilterContext, status: number, fields: string[], body = ''): { verdict: ResponseVerdict; head: string[]; received: string } {
  const head = fields.slice();
  const verdict = filter.onResponse!(ctx, new FlatWriter(head), view(status, fields));
  let received = '';
  const sink: BodySink = { write: (chunk) => (received += chunk.toString()), end: () => {} };
  if (verdict !== undefined && !isLocal(verdict)) {
    const open = (verdict as BodyTransform).open(sink);
    if (body !== '') open.write(Buffer.from(body));
    open.end();
  }
  return { verdict, head, received };
}

const field = (fields: readonly string[], name: string): string | undefined => {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
};

/** A miss answered by the origin with `fields` and `body`, then stored. */
function fill(k: Kit, path: string, fields: string[], body = 'hello', status = 200, headers: Record<string, string> = {}): string[] {
  const ctx = request('GET', path, headers);
  assert.equal(k.filter.onRequest!(ctx), undefined);
  return respond(k.filter, ctx, status, ['content-length', String(body.length), ...fields], body).head;
}

function hit(k: Kit, path: string, headers: Record<string, string> = {}, method = 'GET'): LocalResponse | undefined {
  return k.filter.onRequest!(request(method, path, headers)) as LocalResponse | undefined;
}

describe('cache filter', () => {
  it('stores a response with max-age and answers from it with Age and Cache-Status', () => {
    const k = kit();
    const head = fill(k, '/a', ['cache-control', 'max-age=60', 'content-type', 'text/plain', 'etag', '"v1"']);
    assert.equal(field(head, 'cache-status'), 'Switchyard; fwd=uri-miss; fwd-status=200; stored');
    k.clock.ms += 10_000;
    const answer = hit(k, '/a')!;
    assert.equal(answer.status, 200);
    assert.equal(answer.body.toString(), 'hello');
    assert.equal(field(answer.headers, 'age'), '10');
    assert.equal(field(answer.headers, 'cache-status'), 'Switchyard; hit; ttl=50');
    assert.equal(field(answer.headers, 'content-length'), undefined, 'the path sets the length');
    assert.equal(hit(k, '/a', {}, 'HEAD')!.status, 200, 'HEAD is answered from the GET entry');
    const logged = request('GET', '/a');
    k.filter.onRequest!(logged);
    assert.equal(logged.reason, 'cache:hit', 'the access log says the cache answered');
    assert.equal(hit(k, '/a?x=1'), undefined, 'the query is part of the key');
  });

  it('s-maxage wins over max-age; no explicit freshness is not stored unless heuristic', () => {
    const k = kit();
    fill(k, '/s', ['cache-control', 'max-age=1000, s-maxage=5']);
    k.clock.ms += 6_000;
    const state = k.filter.onRequest!(request('GET', '/s'));
    assert.equal(state, undefined, 'stale after s-maxage: goes upstream');
    const head = fill(k, '/plain', ['last-modified', new Date(Date.now() - 100 * 86_400_000).toUTCString()]);
    assert.match(field(head, 'cache-status')!, /detail=no-freshness/);
    const h = kit({ heuristic: true });
    fill(h, '/plain', ['last-modified', new Date(Date.now() - 100 * 86_400_000).toUTCString(), 'date', new Date().toUTCString()]);
    assert.equal(field(hit(h, '/plain')!.headers, 'cache-status'), 'Switchyard; hit; ttl=86400', 'heuristic freshness capped at a day');
  });

  it('does not store no-store, private, Set-Cookie, Vary: *, or an uncacheable status', () => {
    const k = kit();
    for (const [fields, reason] of [
      [['cache-control', 'no-store, max-age=60'], 'no-store'],
      [['cache-control', 'private, max-age=60'], 'private'],
      [['cache-control', 'max-age=60', 'set-cookie', 'a=1'], 'set-cookie'],
      [['cache-control', 'max-age=60', 'vary', '*'], 'vary-star'],
    ] as const) {
      const head = fill(k, `/${reason}`, [...fields]);
      assert.match(field(head, 'cache-status')!, new RegExp(`detail=${reason}$`));
      assert.equal(hit(k, `/${reason}`), undefined);
    }
    assert.match(field(fill(k, '/500', ['cache-control', 'max-age=60'], 'x', 500), 'cache-status')!, /detail=status/);
  });

  it('no-cache is stored but validated on every request', () => {
    const k = kit();
    fill(k, '/nc', ['cache-control', 'no-cache', 'etag', '"e"']);
    const ctx = request('GET', '/nc');
    assert.equal(k.filter.onRequest!(ctx), undefined);
    const up: string[] = [];
    k.filter.onUpstreamRequest!(ctx, new FlatWriter(up));
    assert.deepEqual(up, ['if-none-match', '"e"']);
  });

  it('keys on the Vary names', () => {
    const k = kit({ coalesce: false });
    fill(k, '/v', ['cache-control', 'max-age=60', 'vary', 'Accept-Language'], 'english', 200, { 'accept-language': 'en' });
    assert.equal(hit(k, '/v', { 'accept-language': 'de' }), undefined);
    fill(k, '/v', ['cache-control', 'max-age=60', 'vary', 'Accept-Language'], 'deutsch', 200, { 'accept-language': 'de' });
    assert.equal(hit(k, '/v', { 'accept-language': 'en' })!.body.toString(), 'english');
    assert.equal(hit(k, '/v', { 'accept-language': 'de' })!.body.toString(), 'deutsch');
  });

  it('sends one request upstream for 50 concurrent misses; the others get the stored answer', async () => {
    const k = kit();
    const leader = request('GET', '/c');
    assert.equal(k.filter.onRequest!(leader), undefined);
    const waiting = Array.from({ length: 49 }, () => k.filter.onRequest!(request('GET', '/c')));
    for (const wait of waiting) assert.ok(wait instanceof Promise);
    respond(k.filter, leader, 200, ['cache-control', 'max-age=60', 'content-length', '3'], 'one');
    const answers = (await Promise.all(waiting)) as LocalResponse[];
    for (const answer of answers) {
      assert.equal(answer.body.toString(), 'one');
      assert.match(field(answer.headers, 'cache-status')!, /hit; ttl=60; collapsed/);
    }
  });

  it('releases the waiters to go upstream themselves when the first answer is not storable or is cut', async () => {
    const k = kit();
    const leader = request('GET', '/u');
    k.filter.onRequest!(leader);
    const waiter = k.filter.onRequest!(request('GET', '/u'));
    respond(k.filter, leader, 200, ['cache-control', 'no-store']);
    assert.equal(await waiter, undefined);

    const second = request('GET', '/cut');
    k.filter.onRequest!(second);
    const other = k.filter.onRequest!(request('GET', '/cut'));
    const verdict = k.filter.onResponse!(second, new FlatWriter([]), view(200, ['cache-control', 'max-age=60', 'content-length', '10'])) as BodyTransform;
    const sink = verdict.open({ write: () => {}, end: () => {} });
    sink.write(Buffer.from('half'));
    sink.abort!();
    assert.equal(await other, undefined);
    assert.equal(hit(k, '/cut'), undefined, 'a cut body is not stored');
  });

  it('a waiter stops waiting after coalesce_timeout, and a lost leader is replaced', async () => {
    const k = kit({ coalesce_timeout: '20ms' });
    k.filter.onRequest!(request('GET', '/lost'));
    assert.equal(await k.filter.onRequest!(request('GET', '/lost')), undefined);
    k.clock.ms += 50;
    assert.equal(k.filter.onRequest!(request('GET', '/lost')), undefined, 'leads instead of waiting on a lost leader');
  });

  it('leaders lost on many distinct URLs (clients gone before any response) are not kept forever', () => {
    const k = kit({ coalesce_timeout: '20ms' });
    const store = k.host.env('/tmp', '/tmp').shared(registryKey, () => new CacheRegistry()).store(cacheFilterSchema.parse({}).max_size, () => {});
    // each leader marks its key in flight and is never settled (its client left, the path dropped the upstream)
    for (let i = 0; i < 20_000; i++) {
      assert.equal(k.filter.onRequest!(request('GET', `/gone/${i}`)), undefined);
      if (i % 1000 === 999) k.clock.ms += 50;
    }
    assert.ok(store.pending.size <= 4096, `${store.pending.size} lost leaders kept`);
  });

  it('revalidates with the stored validators; a 304 refreshes the entry and sends the stored 200', () => {
    const k = kit();
    fill(k, '/r', ['cache-control', 'max-age=1', 'etag', '"v1"', 'last-modified', 'Mon, 01 Jan 2024 00:00:00 GMT', 'x-old', 'kept'], 'body-v1');
    k.clock.ms += 5_000;
    const ctx = request('GET', '/r', { 'if-none-match': '"client"' });
    assert.equal(k.filter.onRequest!(ctx), undefined);
    const up = ['if-none-match', '"client"'];
    k.filter.onUpstreamRequest!(ctx, new FlatWriter(up));
    assert.deepEqual(up, ['if-none-match', '"v1"', 'if-modified-since', 'Mon, 01 Jan 2024 00:00:00 GMT']);
    const { verdict } = respond(k.filter, ctx, 304, ['cache-control', 'max-age=100', 'etag', '"v1"']);
    const answer = verdict as LocalResponse;
    assert.equal(answer.status, 200);
    assert.equal(answer.body.toString(), 'body-v1');
    assert.equal(field(answer.headers, 'cache-control'), 'max-age=100');
    assert.equal(field(answer.headers, 'x-old'), 'kept');
    assert.equal(field(answer.headers, 'cache-status'), 'Switchyard; fwd=stale; fwd-status=304; ttl=100');
    assert.equal(field(hit(k, '/r')!.headers, 'cache-status'), 'Switchyard; hit; ttl=100', 'fresh again');
  });

  it("answers a client's conditional request 304 from the cache", () => {
    const k = kit();
    fill(k, '/cond', ['cache-control', 'max-age=60', 'etag', 'W/"e1"', 'content-type', 'text/html']);
    const answer = hit(k, '/cond', { 'if-none-match': '"x", "e1"' })!;
    assert.equal(answer.status, 304);
    assert.equal(answer.body, '');
    assert.equal(field(answer.headers, 'etag'), 'W/"e1"');
    assert.equal(hit(k, '/cond', { 'if-none-match': '"other"' })!.status, 200);
  });

  it('serves stale on a 5xx within stale-if-error, not after it', () => {
    const k = kit();
    fill(k, '/e', ['cache-control', 'max-age=1, stale-if-error=60'], 'old');
    k.clock.ms += 10_000;
    const ctx = request('GET', '/e');
    assert.equal(k.filter.onRequest!(ctx), undefined);
    const answer = respond(k.filter, ctx, 503, ['content-length', '0']).verdict as LocalResponse;
    assert.equal(answer.body.toString(), 'old');
    assert.match(field(answer.headers, 'cache-status')!, /fwd=stale; fwd-status=503; ttl=-9; detail=stale-if-error/);
    k.clock.ms += 100_000;
    const late = request('GET', '/e');
    k.filter.onRequest!(late);
    assert.equal(respond(k.filter, late, 503, ['content-length', '0']).verdict, undefined);
  });

  it('stale-while-revalidate: the first stale request is answered stale, the next one refreshes', () => {
    const k = kit();
    fill(k, '/w', ['cache-control', 'max-age=1, stale-while-revalidate=60', 'etag', '"w"'], 'old');
    k.clock.ms += 5_000;
    assert.match(field(hit(k, '/w')!.headers, 'cache-status')!, /detail=stale-while-revalidate/);
    const refresher = request('GET', '/w');
    assert.equal(k.filter.onRequest!(refresher), undefined, 'goes upstream');
    assert.match(field(hit(k, '/w')!.headers, 'cache-status')!, /detail=stale-while-revalidate/, 'others still get stale meanwhile');
    respond(k.filter, refresher, 200, ['cache-control', 'max-age=60', 'content-length', '3'], 'new');
    assert.equal(hit(k, '/w')!.body.toString(), 'new');
  });

  it('must-revalidate entries are never served stale', () => {
    const k = kit();
    fill(k, '/m', ['cache-control', 'max-age=1, must-revalidate, stale-while-revalidate=60, stale-if-error=60']);
    k.clock.ms += 5_000;
    const ctx = request('GET', '/m');
    assert.equal(k.filter.onRequest!(ctx), undefined);
    assert.equal(respond(k.filter, ctx, 502, []).verdict, undefined);
  });

  it('does not answer a request with Authorization from a shared entry unless the response allowed it', () => {
    const k = kit();
    fill(k, '/p', ['cache-control', 'max-age=60']);
    assert.equal(hit(k, '/p', { authorization: 'Bearer x' }), undefined);
    assert.match(field(fill(k, '/auth', ['cache-control', 'max-age=60'], 'x', 200, { authorization: 'Bearer x' }), 'cache-status')!, /detail=authorization/);
    fill(k, '/pub', ['cache-control', 'public, max-age=60'], 'x', 200, { authorization: 'Bearer x' });
    assert.equal(hit(k, '/pub', { authorization: 'Bearer y' })!.status, 200);
  });

  it('passes Range requests and request no-store through, uncached', () => {
    const k = kit();
    fill(k, '/range', ['cache-control', 'max-age=60']);
    const ctx = request('GET', '/range', { range: 'bytes=0-1' });
    assert.equal(k.filter.onRequest!(ctx), undefined);
    assert.equal(field(respond(k.filter, ctx, 206, []).head, 'cache-status'), 'Switchyard; fwd=bypass; detail=range');
    assert.equal(hit(k, '/range', { 'cache-control': 'no-store' }), undefined);
    k.clock.ms += 1000;
    assert.equal(hit(k, '/range', { 'cache-control': 'max-age=0' }), undefined, 'max-age=0 validates');
    assert.equal(hit(k, '/none', { 'cache-control': 'only-if-cached' })!.status, 504);
  });

  it('a successful POST invalidates the URL', () => {
    const k = kit();
    fill(k, '/doc', ['cache-control', 'max-age=60']);
    const post = request('POST', '/doc');
    assert.equal(k.filter.onRequest!(post), undefined);
    assert.equal(field(respond(k.filter, post, 204, []).head, 'cache-status'), 'Switchyard; fwd=method');
    assert.equal(hit(k, '/doc'), undefined);
  });

  it('evicts the least recently used entries past max_size', () => {
    const k = kit({ max_size: '4kb', max_object_size: '2kb' });
    const body = 'x'.repeat(1500);
    fill(k, '/1', ['cache-control', 'max-age=60'], body);
    fill(k, '/2', ['cache-control', 'max-age=60'], body);
    hit(k, '/1');
    fill(k, '/3', ['cache-control', 'max-age=60'], body);
    assert.ok(hit(k, '/1'));
    assert.equal(hit(k, '/2'), undefined, 'the least recently used went');
    assert.ok(hit(k, '/3'));
    assert.match(field(fill(k, '/big', ['cache-control', 'max-age=60'], 'y'.repeat(3000)), 'cache-status')!, /detail=size/);
    assert.ok(k.host.snapshot().some((series) => series.filter === 'cache' && series.event === 'evicted' && series.count === 1));
  });

  it('purges by URL and by prefix, in every filter built in the process', async () => {
    const k = kit();
    const again = cacheFilter.create(cacheFilterSchema.parse({}), k.host.env('/tmp', '/tmp'));
    fill(k, '/static/a.css', ['cache-control', 'max-age=60']);
    fill(k, '/static/b.css', ['cache-control', 'max-age=60']);
    fill(k, '/other', ['cache-control', 'max-age=60']);
    assert.ok(again.onRequest!(request('GET', '/other')), 'a second build of the filter shares the store');
    assert.equal(await purgeCache(k.host, { url: 'http://edge.test/other' }), 1);
    assert.equal(hit(k, '/other'), undefined);
    assert.equal(await purgeCache(k.host, { prefix: 'http://EDGE.test/static/' }), 2);
    assert.equal(hit(k, '/static/a.css'), undefined);
    assert.equal(await purgeCache(k.host, { url: 'not a url' }), 0);
    const withPort = request('GET', '/port');
    Object.assign(withPort, { host: 'edge.test:80' });
    k.filter.onRequest!(withPort);
    respond(k.filter, withPort, 200, ['cache-control', 'max-age=60', 'content-length', '1'], 'p');
    assert.equal(await purgeCache(k.host, { url: 'http://edge.test/port' }), 1, 'the default port is not part of the key');
  });

  it('is refused at load after compress in the run order, and its size bounds are checked', () => {
    const config = (listener: string, route: string) => `pools:
  a: { backends: [ { address: 127.0.0.1:1 } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    middleware: ${listener}
    routes:
      - { match: { path_prefix: / }, pool: a, middleware: ${route} }
`;
    assert.throws(() => parseConfigText(config('[ { compress: {} } ]', '[ { cache: {} } ]'), 'x.yaml', '/tmp'), /expected cache before compress/);
    assert.throws(() => parseConfigText(config('[]', '[ { compress: {} }, { cache: {} } ]'), 'x.yaml', '/tmp'), /expected cache before compress/);
    assert.doesNotThrow(() => parseConfigText(config('[ { cache: {} } ]', '[ { compress: {} } ]'), 'x.yaml', '/tmp'));
    assert.throws(() => cacheFilterSchema.parse({ max_size: '1kb', max_object_size: '2kb' }), /max_object_size at most max_size/);
    assert.throws(() => cacheFilterSchema.parse({ disk: {} }));
  });
});
