// npm's install step, both in a checkout (`npm ci`) and in an installed package (`npm install -g
// ./switchyard-*.tgz`, which ships dist/ built by prepack). CommonJS so that any Node can run it. Builds the
// ICMP addon (src/diag/native/build.cjs), the DNS UDP addon (src/dns/native/build.cjs) and the HTTP/3 addon
// (src/h3/native/build.cjs, only where Debian's ngtcp2/nghttp3 development packages are installed), then: in a checkout, builds dist/ (scripts/build-dist.cjs) and links
// node_modules/.bin/switchyard (npm links the bins of dependencies only, and `npx switchyard` and the tests
// use it); in an installed package, links dist/diag/native to the addon (npm pack leaves links out). Never
// fails the install: each step says what is missing and the rest of Switchyard works without it.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const checkout = fs.existsSync(path.join(root, 'src', 'cli', 'main.ts'));

spawnSync(process.execPath, [path.join(root, 'src', 'diag', 'native', 'build.cjs')], { stdio: 'inherit' });
spawnSync(process.execPath, [path.join(root, 'src', 'dns', 'native', 'build.cjs')], { stdio: 'inherit' });
spawnSync(process.execPath, [path.join(root, 'src', 'h3', 'native', 'build.cjs')], { stdio: 'inherit' });
if (checkout) {
  spawnSync(process.execPath, [path.join(__dirname, 'build-dist.cjs')], { stdio: 'inherit' });
  const bin = path.join(root, 'node_modules', '.bin', 'switchyard');
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  fs.rmSync(bin, { force: true });
  fs.symlinkSync(path.join('..', '..', 'bin', 'switchyard.cjs'), bin);
} else {
  require('./build-dist.cjs').linkNativeAddon();
}
