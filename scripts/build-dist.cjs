// Builds dist/ (src/ as plain JavaScript, tsconfig.build.json, plus the bundled worker and demo app) during
// `npm install` in a checkout, `npm run build`, and `npm pack` (prepack, with --strict). CommonJS so that any
// Node can run it from npm's install step. Never fails an install in a checkout: without dist/ (no TypeScript
// installed, e.g. `npm ci --omit=dev`, or a compile error) everything runs from the .ts sources through
// Node's type stripping, just with a larger memory footprint per process. With --strict (packing) any
// failure is an error: an installed package cannot run .ts (Node does not strip types under node_modules).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const strict = process.argv.includes('--strict');

/** Without --strict: says why and leaves the .ts sources to run. With --strict: fails the command. */
function giveUp(message) {
  console.log(`switchyard: ${message}`);
  process.exit(strict ? 1 : 0);
}
const dist = path.join(root, 'dist');
// Written last: its mtime is what "dist/ is at least as new as src/" compares (src/supervisor/dist-entry.ts).
const stamp = path.join(dist, '.build-stamp');

/**
 * One esbuild bundle of `entry` into `out` (our code in one module, packages stay in node_modules). On
 * failure `out` is removed and `fallback` (what runs instead) is said; with --strict the build fails.
 */
function bundle(esbuild, what, entry, out, fallback, extra = {}) {
  fs.rmSync(out, { recursive: true, force: true });
  try {
    esbuild.buildSync({ entryPoints: Array.isArray(entry) ? entry : [entry], outdir: out, bundle: true, format: 'esm', platform: 'node', target: 'node24', packages: 'external', logLevel: 'warning', ...extra });
  } catch (err) {
    fs.rmSync(out, { recursive: true, force: true });
    if (strict) giveUp(`bundling ${what} failed (${err && err.message})`);
    console.log(`switchyard: bundling ${what} failed (${err && err.message}); it runs ${fallback}`);
  }
}

/**
 * Both bundles, when esbuild is installed (a checkout's devDependency; an installed package ships them).
 * dist/worker/: the traffic worker, with one chunk per listener kind, which src/supervisor/listeners.ts
 * imports on demand. A worker that loads ~100 separate modules idles ~5 MB higher: V8 tiers up Node's own
 * module loader and touches more of the node binary (docs/bench.md, "RSS"). dist/demo/app/: the demo's
 * application server (demo/app, TypeScript outside src/), which an installed package cannot run as .ts.
 */
function bundleAll() {
  let esbuild;
  try {
    esbuild = require(require.resolve('esbuild', { paths: [root] }));
  } catch {
    if (strict) giveUp('esbuild is not installed: cannot bundle the worker and the demo app');
    console.log('switchyard: esbuild is not installed, so the worker is not bundled');
    for (const out of ['worker', path.join('demo', 'app'), path.join('admin', 'dashboard', 'ui')]) fs.rmSync(path.join(dist, out), { recursive: true, force: true });
    return;
  }
  bundle(esbuild, 'the worker', path.join(dist, 'supervisor', 'worker-main.js'), path.join(dist, 'worker'), 'dist/supervisor/worker-main.js', { splitting: true });
  // dist/admin/dashboard/ui/: the dashboard's script and stylesheet for browsers (src/admin/dashboard/assets.ts
  // reads them there; from the .ts sources it builds the same bundle in memory).
  const ui = path.join(root, 'src', 'admin', 'dashboard', 'ui');
  bundle(esbuild, 'the dashboard', [path.join(ui, 'app.js'), path.join(ui, 'app.css')], path.join(dist, 'admin', 'dashboard', 'ui'), 'nothing (the dashboard answers 500)', { platform: 'browser', target: 'es2022', minify: true, packages: undefined });
  bundle(esbuild, 'the demo app', path.join(root, 'demo', 'app', 'main.ts'), path.join(dist, 'demo', 'app'), 'demo/app/main.ts');
}

/**
 * The ICMP addon is loaded relative to its module (src/diag/native/build/…): dist/diag/native links to the
 * one build. Also run by scripts/install.cjs: npm pack leaves symbolic links out of the package.
 */
function linkNativeAddon() {
  const native = path.join(dist, 'diag', 'native');
  fs.rmSync(native, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(native), { recursive: true });
  fs.symlinkSync(path.join('..', '..', 'src', 'diag', 'native'), native, 'dir');
}

function build() {
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    giveUp('typescript is not installed, so no dist/ build; processes run the .ts sources');
  }
  // from an empty dist/: a source file that was moved or deleted (or a test helper) leaves no stale module
  // behind to be run or packed
  fs.rmSync(dist, { recursive: true, force: true });
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) giveUp('the dist/ build failed; processes run the .ts sources');
  linkNativeAddon();
  bundleAll();
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
  console.log('switchyard: built dist/');
}

module.exports = { linkNativeAddon };
if (require.main === module) build();

