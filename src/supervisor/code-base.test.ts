// dist/ runs only while it is at least as new as every source file (bin/dist-fresh.cjs, used by the
// `switchyard` bin and by the primary when it picks the workers' entry).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const { distStatus } = createRequire(import.meta.url)('../../bin/dist-fresh.cjs') as { distStatus: (root: string) => { fresh: boolean; reason: string } };

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

test('dist/ is fresh only when its build stamp is at least as new as every .ts source', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'switchyard-dist-'));
  dirs.push(root);
  await mkdir(path.join(root, 'src', 'l7'), { recursive: true });
  const source = path.join(root, 'src', 'l7', 'listener.ts');
  const testFile = path.join(root, 'src', 'l7', 'listener.test.ts');
  await writeFile(source, 'export {};\n');
  await writeFile(testFile, 'export {};\n');
  assert.match(distStatus(root).reason, /not built/);
  assert.equal(distStatus(root).fresh, false);

  await mkdir(path.join(root, 'dist'));
  const stamp = path.join(root, 'dist', '.build-stamp');
  await writeFile(stamp, 'built\n');
  const at = (seconds: number): Date => new Date(1_700_000_000_000 + seconds * 1000);
  await utimes(source, at(0), at(0));
  await utimes(stamp, at(10), at(10));
  await utimes(testFile, at(20), at(20));
  assert.equal(distStatus(root).fresh, true, 'a newer test file does not make dist/ stale');

  await utimes(source, at(30), at(30));
  const stale = distStatus(root);
  assert.equal(stale.fresh, false);
  assert.match(stale.reason, /older than src\/l7\/listener\.ts/);

  // the dashboard's browser sources are bundled into dist/ as well
  await utimes(source, at(0), at(0));
  const ui = path.join(root, 'src', 'admin', 'dashboard', 'ui');
  await mkdir(ui, { recursive: true });
  await writeFile(path.join(ui, 'app.css'), 'body {}\n');
  await utimes(path.join(ui, 'app.css'), at(30), at(30));
  assert.match(distStatus(root).reason, /older than src\/admin\/dashboard\/ui\/app\.css/);
});

test('an installed package (dist/ and no TypeScript sources) runs dist/', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'switchyard-installed-'));
  dirs.push(root);
  await mkdir(path.join(root, 'dist'));
  await writeFile(path.join(root, 'dist', '.build-stamp'), 'built\n');
  assert.equal(distStatus(root).fresh, true);
  await mkdir(path.join(root, 'src', 'diag', 'native'), { recursive: true });
  await writeFile(path.join(root, 'src', 'diag', 'native', 'icmp.c'), 'int x;\n');
  assert.equal(distStatus(root).fresh, true);
});
