// The `cache` filter end to end on every client × pool pair (HTTP/1.1 and HTTP/2 clients through both
// HTTP/2 engines, to an HTTP/1.1 and an h2c origin): a counting origin proves what reaches it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { purgeCache } from '../../../src/l7/filters/index.ts';
import { curl, pairs, startEdge, type Edge, type OriginRequest, type OriginResponse } from './pairs.ts';

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('cache filter, end to end', { timeout: 180_000 }, () => {
  let edge: Edge;
  /** Requests the origins saw, per path (query included). */
  const seen = new Map<string, OriginRequest[]>();
  let down = false;
  const count = (url: string) => seen.get(url)?.length ?? 0;

  function origin(request: OriginRequest, response: OriginResponse): void {
    const list = seen.get(request.url) ?? [];
    list.push(request);
    seen.set(request.url, list);
    const n = list.length;
    const [, kind] = request.url.split('/');
    const text = (status: number, headers: Record<string, string>, body: string) => {
      response.head(status, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)), ...headers });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    switch (kind) {
      case 'fresh':
        return text(200, { 'cache-control': 'max-age=60', etag: '"f1"' }, `fresh ${request.url} #${n}`);
      case 'slow':
        // held long enough for every concurrent request to arrive while it is in flight
        return void setTimeout(() => text(200, { 'cache-control': 'max-age=60' }, `slow #${n}`), 300);
      case 'nostore':
        return text(200, { 'cache-control': 'no-store' }, `nostore #${n}`);
      case 'private':
        return text(200, { 'cache-control': 'private, max-age=60' }, `private #${n}`);
      case 'vary':
        return text(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' }, `lang=${request.headers['accept-language']} #${n}`);
      case 'gone':
        // an origin that fails without answering (reset): the edge's own 502 is what the cache replaces
        if (down) return response.destroy();
        return text(200, { 'cache-control': 'max-age=1, stale-if-error=60' }, `gone #${n}`);
      case 'stale':
        if (down) return text(503, {}, 'down');
        return text(200, { 'cache-control': 'max-age=1, stale-if-error=60', etag: '"s1"' }, `stale #${n}`);
      case 'reval':
        if (request.headers['if-none-match'] === '"r1"') {
          response.head(304, { 'cache-control': 'max-age=60', etag: '"r1"', 'x-refreshed': String(n) });
          return response.end();
        }
        return text(200, { 'cache-control': 'max-age=1', etag: '"r1"', 'x-refreshed': '0' }, `reval #${n}`);
      case 'swr':
        return text(200, { 'cache-control': 'max-age=1, stale-while-revalidate=30' }, `swr #${n}`);
      case 'range':
        return text(request.headers.range === undefined ? 200 : 206, { 'cache-control': 'max-age=60' }, `range #${n}`);
      case 'big':
        return text(200, { 'cache-control': 'max-age=60' }, 'b'.repeat(3000));
      default:
        return text(404, {}, 'no such case');
    }
  }

  before(async () => {
    edge = await startEdge(origin, '[ { cache: { max_size: 8kb, max_object_size: 4kb } } ]');
  });
  after(() => edge.close());

  it('stores and answers hits with Age and Cache-Status; HEAD from the stored GET', async () => {
    for (const pair of pairs) {
      const path = `/fresh/${pair.tag}`;
      const first = await curl(pair.flags, edge.url(pair, path));
      assert.equal(first.status, 200, pair.name);
      assert.equal(first.headers['cache-status'], 'Switchyard; fwd=uri-miss; fwd-status=200; stored', pair.name);
      const second = await curl(pair.flags, edge.url(pair, path));
      assert.equal(second.body.toString(), `fresh ${path} #1`, pair.name);
      assert.match(second.headers['cache-status'], /^Switchyard; hit; ttl=(59|60)$/, pair.name);
      assert.match(second.headers.age, /^[01]$/, pair.name);
      assert.equal(second.headers['content-length'], String(first.body.length), pair.name);
      const head = await curl([...pair.flags, '-I'], edge.url(pair, path));
      assert.equal(head.status, 200, pair.name);
      assert.equal(head.headers['content-length'], String(first.body.length), pair.name);
      assert.match(head.headers['cache-status'], /hit/, pair.name);
      const conditional = await curl(pair.flags, edge.url(pair, path), ['if-none-match: "f1"']);
      assert.equal(conditional.status, 304, pair.name);
      assert.equal(conditional.body.length, 0, pair.name);
      assert.equal(count(path), 1, pair.name);
    }
  });

  it('sends one request upstream for 50 concurrent misses', async () => {
    for (const pair of pairs) {
      const path = `/slow/${pair.tag}`;
      const url = edge.url(pair, path);
      const args = ['-sS', '--max-time', '10', ...pair.flags, '-Z', '--parallel-immediate', '--parallel-max', '50', '-w', '%{http_code} %header{cache-status}\\n'];
      for (let i = 0; i < 50; i++) args.push('-o', '/dev/null', url);
      const stdout = await new Promise<string>((resolve, reject) => execFile('curl', args, (error, out) => (error ? reject(error) : resolve(out))));
      const lines = stdout.trim().split('\n');
      assert.equal(lines.length, 50, pair.name);
      for (const line of lines) assert.match(line, /^200 Switchyard; (fwd=uri-miss; fwd-status=200; stored|hit; ttl=\d+; collapsed|hit; ttl=\d+)$/, pair.name);
      assert.ok(lines.filter((line) => line.includes('collapsed')).length > 0, `${pair.name}: some requests waited for the first`);
      assert.equal(count(path), 1, `${pair.name}: the origin saw one request`);
    }
  });

  it('does not store no-store or private responses', async () => {
    for (const pair of pairs) {
      for (const kind of ['nostore', 'private']) {
        const path = `/${kind}/${pair.tag}`;
        await curl(pair.flags, edge.url(pair, path));
        const again = await curl(pair.flags, edge.url(pair, path));
        assert.equal(again.body.toString(), `${kind} #2`, pair.name);
        assert.match(again.headers['cache-status'], new RegExp(`detail=${kind === 'nostore' ? 'no-store' : 'private'}$`), pair.name);
      }
    }
  });

  it('keeps one entry per Vary value', async () => {
    for (const pair of pairs) {
      const url = edge.url(pair, `/vary/${pair.tag}`);
      assert.equal((await curl(pair.flags, url, ['accept-language: en'])).body.toString(), 'lang=en #1', pair.name);
      assert.equal((await curl(pair.flags, url, ['accept-language: de'])).body.toString(), 'lang=de #2', pair.name);
      const en = await curl(pair.flags, url, ['accept-language: en']);
      assert.equal(en.body.toString(), 'lang=en #1', pair.name);
      assert.match(en.headers['cache-status'], /hit/, pair.name);
      assert.equal((await curl(pair.flags, url, ['accept-language: de'])).body.toString(), 'lang=de #2', pair.name);
    }
  });

  it('revalidates a stale entry: the origin answers 304, the client gets the stored 200 with the refreshed head', async () => {
    for (const pair of pairs) {
      const path = `/reval/${pair.tag}`;
      await curl(pair.flags, edge.url(pair, path));
    }
    await later(1100); // max-age=1: wait for the entries to go stale
    for (const pair of pairs) {
      const path = `/reval/${pair.tag}`;
      const reply = await curl(pair.flags, edge.url(pair, path));
      assert.equal(reply.status, 200, pair.name);
      assert.equal(reply.body.toString(), 'reval #1', pair.name);
      assert.equal(reply.headers['x-refreshed'], '2', pair.name);
      assert.match(reply.headers['cache-status'], /^Switchyard; fwd=stale; fwd-status=304; ttl=60$/, pair.name);
      assert.equal(seen.get(path)![1].headers['if-none-match'], '"r1"', pair.name);
      assert.match((await curl(pair.flags, edge.url(pair, path))).headers['cache-status'], /hit/, pair.name);
      assert.equal(count(path), 2, pair.name);
    }
  });

  it('serves the stale entry while the origin answers 503 (stale-if-error)', async () => {
    for (const pair of pairs) await curl(pair.flags, edge.url(pair, `/stale/${pair.tag}`));
    await later(1100);
    down = true;
    try {
      for (const pair of pairs) {
        const reply = await curl(pair.flags, edge.url(pair, `/stale/${pair.tag}`));
        assert.equal(reply.status, 200, pair.name);
        assert.equal(reply.body.toString(), 'stale #1', pair.name);
        assert.match(reply.headers['cache-status'], /fwd=stale; fwd-status=503; ttl=(0|-\d+); detail=stale-if-error/, pair.name);
      }
    } finally {
      down = false;
    }
  });

  it('serves the stale entry when the origin gives no response at all (reset), with the failure in the reason', async () => {
    for (const pair of pairs) await curl(pair.flags, edge.url(pair, `/gone/${pair.tag}`));
    await later(1100);
    down = true;
    try {
      for (const pair of pairs) {
        const reply = await curl(pair.flags, edge.url(pair, `/gone/${pair.tag}`));
        assert.equal(reply.status, 200, pair.name);
        assert.equal(reply.body.toString(), 'gone #1', pair.name);
        assert.match(reply.headers['cache-status'], /fwd=stale; fwd-status=50[24]; ttl=(0|-\d+); detail=stale-if-error/, pair.name);
      }
    } finally {
      down = false;
    }
  });

  it('stale-while-revalidate: a stale answer at once, then the next request refreshes the entry', async () => {
    for (const pair of pairs) await curl(pair.flags, edge.url(pair, `/swr/${pair.tag}`));
    await later(1100);
    for (const pair of pairs) {
      const path = `/swr/${pair.tag}`;
      const stale = await curl(pair.flags, edge.url(pair, path));
      assert.equal(stale.body.toString(), 'swr #1', pair.name);
      assert.match(stale.headers['cache-status'], /hit; ttl=(0|-\d+); detail=stale-while-revalidate/, pair.name);
      assert.equal(count(path), 1, `${pair.name}: nothing went upstream for the stale answer`);
      const refresh = await curl(pair.flags, edge.url(pair, path));
      assert.equal(refresh.body.toString(), 'swr #2', pair.name);
      assert.match(refresh.headers['cache-status'], /fwd=stale; fwd-status=200; stored/, pair.name);
      assert.match((await curl(pair.flags, edge.url(pair, path))).headers['cache-status'], /^Switchyard; hit; ttl=\d+$/, pair.name);
      assert.equal(count(path), 2, pair.name);
    }
  });

  it('passes Range requests through, uncached', async () => {
    for (const pair of pairs) {
      const path = `/range/${pair.tag}`;
      const reply = await curl(pair.flags, edge.url(pair, path), ['range: bytes=0-3']);
      assert.equal(reply.status, 206, pair.name);
      assert.equal(reply.headers['cache-status'], 'Switchyard; fwd=bypass; detail=range', pair.name);
      await curl(pair.flags, edge.url(pair, path), ['range: bytes=0-3']);
      assert.equal(count(path), 2, pair.name);
    }
  });

  it('purges by URL and by prefix', async () => {
    for (const pair of pairs) {
      const path = `/fresh/purge-${pair.tag}`;
      await curl(pair.flags, edge.url(pair, path));
      assert.match((await curl(pair.flags, edge.url(pair, path))).headers['cache-status'], /hit/, pair.name);
      const url = `http://127.0.0.1:${edge.port(pair.engine)}${path}`;
      // the key is the URL the client asked for; the route's strip_prefix does not change it
      assert.equal(await purgeCache(edge.hosts[pair.engine], { url: edge.url(pair, path) }), 1, `${pair.name} ${url}`);
      assert.match((await curl(pair.flags, edge.url(pair, path))).headers['cache-status'], /uri-miss/, pair.name);
      assert.equal(count(path), 2, pair.name);
    }
    assert.ok((await purgeCache(edge.hosts.auto, { prefix: `http://127.0.0.1:${edge.port('auto')}/h1/fresh/` })) > 0);
  });

  it('evicts least recently used entries past max_size, and does not store objects over max_object_size', async () => {
    const pair = pairs[0];
    for (const n of [1, 2, 3]) await curl(pair.flags, edge.url(pair, `/big/${n}`));
    // 3 × 3000 bytes do not fit in 8kb: the first went
    assert.match((await curl(pair.flags, edge.url(pair, '/big/3'))).headers['cache-status'], /hit/);
    assert.match((await curl(pair.flags, edge.url(pair, '/big/1'))).headers['cache-status'], /uri-miss/);
    const evicted = edge.hosts.auto.snapshot().find((series) => series.filter === 'cache' && series.event === 'evicted');
    assert.ok(evicted !== undefined && evicted.count >= 1);
  });
});
