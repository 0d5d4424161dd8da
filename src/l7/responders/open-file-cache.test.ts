// The static routes' open-file cache on real files: a hit does no file-system call; a changed, replaced
// or deleted file is noticed by the time check (a clock the test moves) and by the directory watch (the
// clock standing still); large files stream from the kept descriptor, which closes once the entry is
// dropped and the last stream ends; the bounds hold.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, readlink, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StaticFiles } from './static-files.ts';
import { header, text } from '../../../test/support/static-response.ts';

let dir: string;
/** Descriptors this process has open on `file` (from /proc/self/fd). */
const openOn = async (file: string): Promise<number> => {
  let count = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === file || target === `${file} (deleted)`) count++;
  }
  return count;
};

/** Descriptors close asynchronously (fs.close on the thread pool): waits, bounded, for the count. */
const settlesTo = async (file: string, count: number): Promise<void> => {
  const deadline = Date.now() + 5000;
  while ((await openOn(file)) !== count) {
    assert.ok(Date.now() < deadline, `${file}: ${count} descriptors open`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

/** A clock the test moves by hand. */
const clock = { at: 0, now: (): number => clock.at };

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'open-file-cache-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function site(name: string, watch: boolean, extra: { maxEntries?: number; smallFileMax?: number } = {}): Promise<{ root: string; files: StaticFiles }> {
  const root = path.join(dir, name);
  await mkdir(path.join(root, 'docs'), { recursive: true });
  const files = new StaticFiles({ root, index: 'index.html', spaFallback: false, cache: { validMs: 1000, watch, now: clock.now, ...extra } });
  return { root, files };
}

test('a known file is answered from the cache without a file-system call; the time check finds a change and a deletion', async () => {
  const { root, files } = await site('timed', false);
  await writeFile(path.join(root, 'a.txt'), 'first');
  const first = await files.serve({ method: 'GET', path: '/a.txt' });
  assert.equal(await text(first), 'first');
  const view = files.cached({ method: 'GET', path: '/a.txt' });
  assert.ok(view, 'a resolved path is a hit within the check interval');
  assert.equal(view.etag, header(first, 'etag'));
  assert.equal(files.cached({ method: 'GET', path: '/a.txt', range: 'bytes=0-1' }), undefined, 'ranges take the general path');

  // changed in place (another length): within the interval the cached answer stands, after it the new one
  await writeFile(path.join(root, 'a.txt'), 'second!');
  assert.equal(await text(await files.serve({ method: 'GET', path: '/a.txt' })), 'first');
  clock.at += 1000;
  assert.equal(files.cached({ method: 'GET', path: '/a.txt' }), undefined, 'due for a check');
  const second = await files.serve({ method: 'GET', path: '/a.txt' });
  assert.equal(await text(second), 'second!');
  assert.equal(header(second, 'content-length'), '7');
  assert.notEqual(header(second, 'etag'), header(first, 'etag'));

  // replaced by rename (a deploy): a new inode
  await writeFile(path.join(root, 'a.txt.new'), 'third!!');
  await rename(path.join(root, 'a.txt.new'), path.join(root, 'a.txt'));
  clock.at += 1000;
  assert.equal(await text(await files.serve({ method: 'GET', path: '/a.txt' })), 'third!!');

  await unlink(path.join(root, 'a.txt'));
  clock.at += 1000;
  assert.equal((await files.serve({ method: 'GET', path: '/a.txt' })).status, 404);
  assert.equal(files.cached({ method: 'GET', path: '/a.txt' }), undefined);
  await writeFile(path.join(root, 'a.txt'), 'back');
  assert.equal(await text(await files.serve({ method: 'GET', path: '/a.txt' })), 'back', 'an absent file is not cached');
  files.close();
});

test('the directory watch finds a change and a deletion before the check interval runs out', async () => {
  const { root, files } = await site('watched', true);
  await writeFile(path.join(root, 'docs', 'b.txt'), 'old');
  assert.equal(await text(await files.serve({ method: 'GET', path: '/docs/b.txt' })), 'old');
  assert.ok(files.cached({ method: 'GET', path: '/docs/b.txt' }));
  // the clock stands still: only the watch event can make the cache look again
  await writeFile(path.join(root, 'docs', 'b.txt'), 'new content');
  const deadline = Date.now() + 10_000;
  while (files.cached({ method: 'GET', path: '/docs/b.txt' }) !== undefined) {
    assert.ok(Date.now() < deadline, 'the watch event came');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const changed = await files.serve({ method: 'GET', path: '/docs/b.txt' });
  assert.equal(await text(changed), 'new content');
  assert.equal(header(changed, 'content-length'), '11');

  await unlink(path.join(root, 'docs', 'b.txt'));
  // judged by what is served, not by the cache's state: the write above may bring a late second event that
  // empties the entry before the deletion's own event, and the clock still stands still, so only a watch
  // event after the deletion can turn the answer into a 404
  for (;;) {
    const gone = await files.serve({ method: 'GET', path: '/docs/b.txt' });
    if (gone.status === 404) break;
    assert.equal(await text(gone), 'new content', 'until the deletion is seen, the cached copy');
    assert.ok(Date.now() < deadline, 'the watch event came');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  files.close();
});

test('a large file streams from the kept descriptor; deleted mid-stream it completes, and the descriptor closes after', async () => {
  const { root, files } = await site('large', false, { smallFileMax: 1024 });
  const big = Buffer.alloc(3 * 1024 * 1024, 'b');
  const file = path.join(root, 'big.bin');
  await writeFile(file, big);
  const first = await files.serve({ method: 'GET', path: '/big.bin' });
  assert.ok(!Buffer.isBuffer(first.body), 'streamed');
  assert.equal((await text(first)).length, big.length);
  assert.equal(await openOn(file), 1, 'the descriptor is kept between requests');

  const streaming = await files.serve({ method: 'GET', path: '/big.bin' });
  await unlink(file);
  clock.at += 1000;
  // the check drops the entry while a response still streams from its descriptor
  assert.equal((await files.serve({ method: 'GET', path: '/big.bin' })).status, 404);
  assert.equal(await openOn(file), 1, 'kept while a stream reads it');
  assert.equal((await text(streaming)).length, big.length, 'the response under way completes');
  await settlesTo(file, 0);

  const range = await files.serve({ method: 'GET', path: '/big.bin', range: 'bytes=0-9' });
  assert.equal(range.status, 404);
  files.close();
});

test('bounded: least recently used entries go; close() lets every descriptor go', async () => {
  const { root, files } = await site('bounded', false, { maxEntries: 2, smallFileMax: 1 });
  for (const name of ['x', 'y', 'z']) await writeFile(path.join(root, `${name}.bin`), `${name}${name}`);
  for (const name of ['x', 'y', 'z']) await text(await files.serve({ method: 'GET', path: `/${name}.bin` }));
  await settlesTo(path.join(root, 'x.bin'), 0);
  assert.equal(await openOn(path.join(root, 'z.bin')), 1);
  assert.equal(files.cached({ method: 'GET', path: '/x.bin' }), undefined);
  files.close();
  await settlesTo(path.join(root, 'y.bin'), 0);
  await settlesTo(path.join(root, 'z.bin'), 0);
  assert.equal(await text(await files.serve({ method: 'GET', path: '/z.bin' })), 'zz', 'a closed responder still answers');
  assert.equal(await openOn(path.join(root, 'z.bin')), 0, 'without keeping anything open');
});
