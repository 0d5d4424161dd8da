// Builds dist/ (src/ as plain JavaScript, tsconfig.build.json) during `npm install` and `npm run build`.
// CommonJS so that any Node can run it from npm's install step. Never fails the install: without dist/ (no
// TypeScript installed, e.g. `npm ci --omit=dev`, or a compile error) everything runs from the .ts sources
// through Node's type stripping, just with a larger memory footprint per process.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
// Written last: its mtime is what "dist/ is at least as new as src/" compares (src/supervisor/dist-entry.ts).
const stamp = path.join(dist, '.build-stamp');

/**
 * dist/worker/: the traffic worker bundled with esbuild (our code in one module plus one chunk per listener
 * kind, which src/supervisor/listeners.ts imports on demand; packages stay in node_modules). A worker that
 * loads ~100 separate modules idles ~5 MB higher: V8 tiers up Node's own module loader and touches more of
 * the node binary (docs/bench.md, "RSS"). Without esbuild the worker runs dist/supervisor/worker-main.js.
 */
function bundleWorker() {
  const out = path.join(dist, 'worker');
  fs.rmSync(out, { recursive: true, force: true });
  let esbuild;
  try {
    esbuild = require(require.resolve('esbuild', { paths: [root] }));
  } catch {
    console.log('switchyard: esbuild is not installed, so the worker is not bundled');
    return;
  }
  try {
    esbuild.buildSync({
      entryPoints: [path.join(dist, 'supervisor', 'worker-main.js')],
      outdir: out,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      packages: 'external',
      logLevel: 'warning',
    });
  } catch (err) {
    fs.rmSync(out, { recursive: true, force: true });
    console.log(`switchyard: bundling the worker failed (${err && err.message}); it runs dist/supervisor/worker-main.js`);
  }
}

let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
} catch {
  console.log('switchyard: typescript is not installed, so no dist/ build; processes run the .ts sources');
  process.exit(0);
}

fs.rmSync(stamp, { force: true });
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.log('switchyard: the dist/ build failed; processes run the .ts sources');
  process.exit(0);
}
// The ICMP addon is loaded relative to its module (src/diag/native/build/…): dist/diag sees the same build.
const native = path.join(dist, 'diag', 'native');
fs.rmSync(native, { recursive: true, force: true });
fs.symlinkSync(path.join('..', '..', 'src', 'diag', 'native'), native, 'dir');
bundleWorker();
fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
console.log('switchyard: built dist/');
