// Switchyard as an installed tool, not a checkout: `npm pack` (whose prepack builds dist/) and an install of
// the tarball into a prefix of its own give a working `switchyard` — from the shell's own `node` (older than
// 24 here: the launcher hands over to the Node 24 that the `node` dependency installs), running the built
// JavaScript (Node does not strip types under node_modules), on a config in yet another directory.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { projectRoot } from '../../support/run-switchyard.ts';

const run = promisify(execFile);
const work = await mkdtemp(path.join(tmpdir(), 'switchyard-install-'));
after(() => rm(work, { recursive: true, force: true }));

/** What `npm pack` reads, copied so that its prepack build does not rewrite the checkout's dist/. */
const packed = ['bin', 'src', 'scripts', 'demo', 'docs', 'README.md', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];

test('npm pack, then npm install of the tarball elsewhere: switchyard check and start work on a config in another directory', { timeout: 120_000 }, async () => {
  const source = path.join(work, 'source');
  await mkdir(source);
  for (const entry of packed) await cp(path.join(projectRoot, entry), path.join(source, entry), { recursive: true, filter: (file) => !file.includes(`${path.sep}build${path.sep}`) });
  await symlink(path.join(projectRoot, 'node_modules'), path.join(source, 'node_modules'));
  const started = performance.now();
  await run('npm', ['pack', '--pack-destination', work], { cwd: source, maxBuffer: 16 << 20 });
  const tarball = (await readdir(work)).find((name) => /^switchyard-.*\.tgz$/.test(name));
  assert.ok(tarball, 'npm pack wrote a tarball');
  const { stdout: listing } = await run('tar', ['tzf', path.join(work, tarball)], { maxBuffer: 16 << 20 });
  assert.match(listing, /package\/dist\/cli\/main\.js/);
  assert.match(listing, /package\/dist\/worker\/worker-main\.js/);
  assert.match(listing, /package\/dist\/demo\/app\/main\.js/);
  assert.doesNotMatch(listing, /\.ts\n/, 'no TypeScript in the package');
  const packSeconds = (performance.now() - started) / 1000;

  // A prefix of its own, like a global install; the registry is asked only for what the npm cache lacks.
  const prefix = path.join(work, 'prefix');
  const install = await run('npm', ['install', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', path.join(work, tarball)], { cwd: work, maxBuffer: 16 << 20 });
  const installOutput = install.stdout + install.stderr;
  assert.doesNotMatch(installOutput, /EBADENGINE/);
  assert.doesNotMatch(installOutput, /could not build the ICMP addon/);
  const installSeconds = (performance.now() - started) / 1000 - packSeconds;
  console.log(`npm pack ${packSeconds.toFixed(1)} s, npm install ${installSeconds.toFixed(1)} s`);

  const bin = path.join(prefix, 'node_modules', '.bin', 'switchyard');
  const configDir = path.join(work, 'config');
  await mkdir(configDir);
  await writeFile(
    path.join(configDir, 'edge.yaml'),
    'workers: 1\nlisteners:\n  - name: web\n    listen: 127.0.0.1:0\n    routes:\n      - match: { path_prefix: / }\n        respond: { status: 200, body: "served by the installed edge" }\n',
  );
  const check = await run(bin, ['check', 'edge.yaml'], { cwd: configDir });
  assert.match(check.stdout, /edge\.yaml: ok/);

  const edge = spawn(bin, ['start', '-c', 'edge.yaml'], { cwd: configDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  edge.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => edge.once('exit', resolve));
  const lines: Record<string, unknown>[] = [];
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready; stderr: ${stderr}`)), 20_000);
    createInterface({ input: edge.stdout }).on('line', (text) => {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      if (line.msg === 'switchyard ready') {
        clearTimeout(timer);
        resolve(line);
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code}; stderr: ${stderr}`)));
  });
  try {
    assert.equal(lines.some((line) => line.msg === 'workers run the TypeScript sources'), false, 'workers run the built JavaScript');
    const { port } = (ready.listeners as Record<string, { port: number }>).web;
    const response = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await response.text(), 'served by the installed edge');
  } finally {
    edge.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
});
