// The disk tier over real files: an entry stored by one process's cache is answered by a fresh one (a
// restart, another worker) with its age carried over, Vary names included; purges and invalidations
// remove the files; the sweep keeps the bound; a torn or foreign file is a miss.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cacheFilterSchema } from '../../../config/index.ts';
import { FlatWriter, FilterHost, builtinFilters } from '../index.ts';
import type { BodyTransform, HttpFilter, LocalResponse, ResponseView } from '../types.ts';
import { fakeContext } from '../../../../test/support/filter-kit.ts';
import { cacheFilter, purgeCache } from './index.ts';
import { DiskStore } from './disk.ts';
import { registryKey, type CacheRegistry } from './store.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'switchyard-cache-disk-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A process's worth of cache: its own host (memory), the shared data dir (disk). */
function processCache(settings: unknown = { disk: { max_size: '1mb' } }) {
  const clock = { ms: 5_000_000 };
  const host = new FilterHost({ registry: builtinFilters(), now: () => clock.ms });
  const filter = cacheFilter.create(cacheFilterSchema.parse(settings), host.env(dir, dir));
  return { filter, host, clock };
}

const view = (fields: string[]): ResponseView => ({
  status: 200,
  backend: 'b',
  header: (name) => {
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
    return undefined;
  },
  fields: () => fields.slice(),
});

async function store(filter: HttpFilter, pathname: string, fields: string[], body: string, headers: Record<string, string> = {}): Promise<void> {
  const ctx = fakeContext({ path: pathname, headers });
  assert.equal(await filter.onRequest!(ctx), undefined);
  const transform = filter.onResponse!(ctx, new FlatWriter([]), view(['content-length', String(body.length), ...fields])) as BodyTransform;
  const sink = transform.open({ write: () => {}, end: () => {} });
  sink.write(Buffer.from(body));
  sink.end();
}

/** The process's disk tier, once its background writes have landed. */
async function written(host: FilterHost): Promise<DiskStore> {
  const registry = host.env(dir, dir).shared(registryKey, () => undefined as unknown as CacheRegistry);
  const disk = registry.disk(path.join(dir, 'cache'), 0, () => {});
  await disk.flush();
  return disk;
}

describe('cache disk tier', () => {
  it('answers from disk in a fresh process, with the age it had', async () => {
    const first = processCache();
    await store(first.filter, '/d/a', ['cache-control', 'max-age=600', 'content-type', 'text/css', 'etag', '"d1"'], 'from disk');
    await written(first.host);
    const second = processCache();
    const answer = (await second.filter.onRequest!(fakeContext({ path: '/d/a' }))) as LocalResponse;
    assert.equal(answer.status, 200);
    assert.equal(answer.body.toString(), 'from disk');
    assert.match(answer.headers[answer.headers.indexOf('cache-status') + 1], /^Switchyard; hit; ttl=(599|600)$/);
    // now in the second process's memory: answered synchronously
    assert.equal(((second.filter.onRequest!(fakeContext({ path: '/d/a' })) as LocalResponse).body as Buffer).toString(), 'from disk');
    assert.ok(second.host.snapshot().some((series) => series.event === 'disk_hit'));
  });

  it('keeps Vary variants apart on disk', async () => {
    const first = processCache();
    await store(first.filter, '/d/v', ['cache-control', 'max-age=600', 'vary', 'accept-language'], 'english', { 'accept-language': 'en' });
    await written(first.host);
    const second = processCache();
    assert.equal(await second.filter.onRequest!(fakeContext({ path: '/d/v', headers: { 'accept-language': 'de' } })), undefined);
    const en = (await second.filter.onRequest!(fakeContext({ path: '/d/v', headers: { 'accept-language': 'en' } }))) as LocalResponse;
    assert.equal(en.body.toString(), 'english');
  });

  it('purges and invalidations remove the files', async () => {
    const first = processCache();
    await store(first.filter, '/d/p', ['cache-control', 'max-age=600'], 'purge me');
    await written(first.host);
    assert.ok((await purgeCache(first.host, { url: 'http://edge.test/d/p' })) >= 2, 'memory and disk');
    assert.equal(await processCache().filter.onRequest!(fakeContext({ path: '/d/p' })), undefined);

    await store(first.filter, '/d/q', ['cache-control', 'max-age=600'], 'post clears me');
    await written(first.host);
    const post = fakeContext({ method: 'POST', path: '/d/q' });
    first.filter.onRequest!(post);
    first.filter.onResponse!(post, new FlatWriter([]), { ...view([]), status: 201 });
    await (await written(first.host)).settled();
    assert.equal(await processCache().filter.onRequest!(fakeContext({ path: '/d/q' })), undefined);
  });

  it('a torn or foreign file is a miss, and the sweep keeps the bound', async () => {
    const disk = new DiskStore(path.join(dir, 'sweep'), 4096, () => {});
    const base = { primary: '', status: 200, headers: [], storedAt: 0, initialAge: 0, lifetime: 60, staleWhileRevalidate: -1, staleIfError: -1, mustRevalidate: false, noCache: false, authorizedOk: false, etag: undefined, lastModified: undefined, refreshWanted: false, size: 0 };
    for (let i = 0; i < 6; i++) {
      disk.write({ ...base, key: `http://x/${i}\0r`, primary: `http://x/${i}\0r`, body: Buffer.alloc(1000, 'x') }, [], 0);
      await disk.flush();
    }
    await disk.sweep();
    let present = 0;
    for (let i = 0; i < 6; i++) if ((await disk.read(`http://x/${i}\0r`, 0)) !== undefined) present++;
    assert.ok(present >= 1 && present <= 4, `${present} of 6 kept under 4096 bytes`);
    const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
    disk.write({ ...base, key: 'http://x/torn\0r', primary: 'http://x/torn\0r', body: Buffer.from('whole') }, [], 0);
    await disk.flush();
    assert.ok(await disk.read('http://x/torn\0r', 0));
    await writeFile(path.join(disk.dir, sha1('http://x/torn'), sha1('http://x/torn\0r')), Buffer.from([0, 0, 255, 255, 1, 2]));
    assert.equal(await disk.read('http://x/torn\0r', 0), undefined, 'torn');
    await writeFile(path.join(disk.dir, sha1('http://x/torn'), sha1('http://x/torn\0r')), Buffer.concat([Buffer.from([0, 0, 0, 15]), Buffer.from('{"key":"other"}'), Buffer.from('body')]));
    assert.equal(await disk.read('http://x/torn\0r', 0), undefined, 'another key');
  });
});
