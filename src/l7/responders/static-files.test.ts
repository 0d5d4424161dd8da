import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StaticFiles } from './static-files.ts';
import { header, text } from '../../../test/support/static-response.ts';

let dir: string;
let files: StaticFiles;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'static-'));
  await mkdir(path.join(dir, 'site', 'docs'), { recursive: true });
  await writeFile(path.join(dir, 'site', 'index.html'), '<h1>home</h1>');
  await writeFile(path.join(dir, 'site', 'app.js'), 'console.log(1)');
  await writeFile(path.join(dir, 'site', 'docs', 'index.html'), 'docs');
  await writeFile(path.join(dir, 'secret.txt'), 'secret');
  await symlink(path.join(dir, 'secret.txt'), path.join(dir, 'site', 'escape.txt'));
  files = new StaticFiles({ root: path.join(dir, 'site'), index: 'index.html', cacheControl: 'public, max-age=60', spaFallback: false });
});
after(() => rm(dir, { recursive: true, force: true }));

test('serves files with type, length, cache-control and a validator; directories get their index', async () => {
  const js = await files.serve({ method: 'GET', path: '/app.js' });
  assert.equal(js.status, 200);
  assert.equal(header(js, 'content-type'), 'text/javascript; charset=utf-8');
  assert.equal(header(js, 'content-length'), '14');
  assert.equal(header(js, 'cache-control'), 'public, max-age=60');
  assert.match(header(js, 'etag')!, /^W\/"e-[0-9a-f]+"$/);
  assert.equal(await text(js), 'console.log(1)');
  assert.equal(await text(await files.serve({ method: 'GET', path: '/docs/' })), 'docs');
  assert.equal(await text(await files.serve({ method: 'GET', path: '/' })), '<h1>home</h1>');
  const head = await files.serve({ method: 'HEAD', path: '/app.js' });
  assert.equal(head.body, null);
  assert.equal(header(head, 'content-length'), '14');
});

test('conditional requests answer 304, ranges 206 and 416', async () => {
  const first = await files.serve({ method: 'GET', path: '/index.html' });
  const etag = header(first, 'etag')!;
  assert.equal((await files.serve({ method: 'GET', path: '/index.html', ifNoneMatch: etag })).status, 304);
  assert.equal((await files.serve({ method: 'GET', path: '/index.html', ifModifiedSince: header(first, 'last-modified') })).status, 304);
  assert.equal((await files.serve({ method: 'GET', path: '/index.html', ifNoneMatch: 'W/"other"' })).status, 200);
  const part = await files.serve({ method: 'GET', path: '/index.html', range: 'bytes=4-7' });
  assert.equal(part.status, 206);
  assert.equal(header(part, 'content-range'), 'bytes 4-7/13');
  assert.equal(await text(part), 'home');
  assert.equal(await text(await files.serve({ method: 'GET', path: '/index.html', range: 'bytes=-5' })), '</h1>');
  assert.equal((await files.serve({ method: 'GET', path: '/index.html', range: 'bytes=99-' })).status, 416);
});

test('nothing outside the root: traversal, encoded traversal, NUL and symlinks out are refused', async () => {
  assert.equal((await files.serve({ method: 'GET', path: '/../secret.txt' })).status, 400);
  assert.equal((await files.serve({ method: 'GET', path: '/%2e%2e/secret.txt' })).status, 400);
  assert.equal((await files.serve({ method: 'GET', path: '/app.js%00' })).status, 400);
  assert.equal((await files.serve({ method: 'GET', path: '/escape.txt' })).status, 404);
  assert.equal((await files.serve({ method: 'GET', path: '/missing' })).status, 404);
  assert.equal((await files.serve({ method: 'POST', path: '/app.js' })).status, 405);
  const spa = new StaticFiles({ root: path.join(dir, 'site'), index: 'index.html', spaFallback: true });
  assert.equal(await text(await spa.serve({ method: 'GET', path: '/some/client/route' })), '<h1>home</h1>');
});

test('precompressed: serves the sibling the client accepts best, with its coding, own ETag and Vary', async () => {
  const root = path.join(dir, 'pre');
  await mkdir(root, { recursive: true });
  await writeFile(path.join(root, 'app.js'), 'original');
  await writeFile(path.join(root, 'app.js.br'), 'brotli-bytes');
  await writeFile(path.join(root, 'app.js.gz'), 'gzip-bytes');
  await writeFile(path.join(root, 'plain.css'), 'css');
  const pre = new StaticFiles({ root, index: 'index.html', spaFallback: false, precompressed: ['zstd', 'br', 'gzip'] });
  const br = await pre.serve({ method: 'GET', path: '/app.js', acceptEncoding: 'gzip, br, zstd' });
  assert.equal(header(br, 'content-encoding'), 'br', 'zstd preferred but absent: br');
  assert.equal(header(br, 'content-type'), 'text/javascript; charset=utf-8');
  assert.equal(header(br, 'vary'), 'Accept-Encoding');
  assert.match(header(br, 'etag')!, /-br"$/);
  assert.equal(await text(br), 'brotli-bytes');
  const gz = await pre.serve({ method: 'GET', path: '/app.js', acceptEncoding: 'br;q=0.5, gzip' });
  assert.equal(header(gz, 'content-encoding'), 'gzip');
  assert.equal(await text(gz), 'gzip-bytes');
  const identity = await pre.serve({ method: 'GET', path: '/app.js' });
  assert.equal(header(identity, 'content-encoding'), undefined);
  assert.equal(header(identity, 'vary'), 'Accept-Encoding');
  assert.equal(await text(identity), 'original');
  assert.equal(await text(await pre.serve({ method: 'GET', path: '/app.js', acceptEncoding: 'br;q=0, gzip;q=0' })), 'original');
  assert.equal(await text(await pre.serve({ method: 'GET', path: '/app.js', acceptEncoding: 'br;q=bad' })), 'original', 'malformed: identity');
  assert.equal(await text(await pre.serve({ method: 'GET', path: '/app.js', acceptEncoding: 'br', range: 'bytes=0-3' })), 'orig', 'ranges are of the original');
  assert.equal(header(await pre.serve({ method: 'GET', path: '/plain.css', acceptEncoding: 'br' }), 'content-encoding'), undefined, 'no sibling');
  const conditional = await pre.serve({ method: 'GET', path: '/app.js', acceptEncoding: 'br', ifNoneMatch: header(br, 'etag') });
  assert.equal(conditional.status, 304);
  assert.equal(header(await files.serve({ method: 'GET', path: '/app.js', acceptEncoding: 'br' }), 'vary'), undefined, 'a route without precompressed does not vary');
});
