// Builds the HTTP/3 addon (quic_h3.c over libngtcp2, libngtcp2_crypto_gnutls, libnghttp3 and GnuTLS) during
// `npm install` (scripts/install.cjs), as src/dns/native/build.cjs builds the DNS UDP addon: node-gyp
// against the installed Node headers, else a plain `cc`. Never fails the install: without the addon a
// listener with `http3: true` is refused by `switchyard check` and `start`, naming the Debian packages to
// install (src/h3/addon.ts), and everything else runs.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const output = path.join(here, 'build', 'Release', 'switchyard_h3.node');
const headerDirs = [process.env.SWITCHYARD_NODE_HEADERS, '/usr/include/node', '/usr/local/include/node'].filter(Boolean);
const headers = headerDirs.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
const libraries = ['-lngtcp2', '-lngtcp2_crypto_gnutls', '-lnghttp3', '-lgnutls'];
const packages = 'libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev libgnutls28-dev';

function run(command, args) {
  return spawnSync(command, args, { cwd: here, stdio: 'inherit' }).status === 0;
}

/** The system headers the addon compiles against (Debian bookworm: ngtcp2 0.12, nghttp3 0.8). */
function librariesPresent() {
  const include = ['/usr/include', '/usr/local/include'];
  const needed = ['ngtcp2/ngtcp2.h', 'ngtcp2/ngtcp2_crypto_gnutls.h', 'nghttp3/nghttp3.h', 'gnutls/gnutls.h'];
  return needed.every((file) => include.some((dir) => fs.existsSync(path.join(dir, file))));
}

function viaNodeGyp() {
  const gyp = process.env.npm_config_node_gyp;
  if (!gyp || !fs.existsSync(gyp)) return false;
  const args = [gyp, 'rebuild', '--loglevel=warn'];
  if (headers) args.push(`--nodedir=${path.resolve(headers, '..', '..')}`);
  return run(process.execPath, args) && fs.existsSync(output);
}

function viaCc() {
  if (!headers) return false;
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const args = ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-shared', '-fPIC', '-DNAPI_VERSION=8', '-D_GNU_SOURCE',
    '-DNODE_GYP_MODULE_NAME=switchyard_h3', `-I${headers}`, 'quic_h3.c', '-o', output, ...libraries];
  return run('cc', args) && fs.existsSync(output);
}

if (process.platform !== 'linux') {
  console.log('switchyard: the HTTP/3 addon is built on Linux only; listeners with http3: true are refused');
} else if (!librariesPresent()) {
  fs.rmSync(output, { force: true });
  console.log(`switchyard: HTTP/3 addon not built (apt-get install ${packages}, then npm rebuild); listeners with http3: true are refused`);
} else if (viaNodeGyp() || viaCc()) {
  console.log(`switchyard: built HTTP/3 addon ${path.relative(process.cwd(), output)}`);
} else {
  fs.rmSync(output, { force: true });
  console.warn('switchyard: could not build the HTTP/3 addon (needs a C compiler, Node headers and the ngtcp2/nghttp3/GnuTLS development packages); listeners with http3: true are refused');
}
