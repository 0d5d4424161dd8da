// Builds the HTTP/3 addon (quic_h3.c over libngtcp2, libngtcp2_crypto_gnutls, libnghttp3 and GnuTLS) during
// `npm install` (scripts/install.cjs) with scripts/native-addon.cjs. Never fails the install: without the
// addon a listener with `http3: true` is refused by `switchyard check` and `start`, naming the Debian
// packages to install (src/h3/addon.ts), and everything else runs.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { buildAddon, addonPath } = require('../../../scripts/native-addon.cjs');

const packages = 'libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev libgnutls28-dev';

/** The system headers the addon compiles against (Debian bookworm: ngtcp2 0.12, nghttp3 0.8). */
function librariesPresent() {
  const include = ['/usr/include', '/usr/local/include'];
  const needed = ['ngtcp2/ngtcp2.h', 'ngtcp2/ngtcp2_crypto_gnutls.h', 'nghttp3/nghttp3.h', 'gnutls/gnutls.h'];
  return needed.every((file) => include.some((dir) => fs.existsSync(path.join(dir, file))));
}

if (process.platform !== 'linux') {
  console.log('switchyard: the HTTP/3 addon is built on Linux only; listeners with http3: true are refused');
} else if (!librariesPresent()) {
  fs.rmSync(path.join(__dirname, 'build', 'Release', 'switchyard_h3.node'), { force: true });
  console.log(`switchyard: HTTP/3 addon not built (apt-get install ${packages}, then npm rebuild); listeners with http3: true are refused`);
} else if (buildAddon({ dir: __dirname, name: 'switchyard_h3', source: 'quic_h3.c', warnings: ['-Wall', '-Wextra'], libraries: ['-lngtcp2', '-lngtcp2_crypto_gnutls', '-lnghttp3', '-lgnutls'] })) {
  console.log(`switchyard: built HTTP/3 addon ${addonPath(__dirname, 'switchyard_h3')}`);
} else {
  console.warn('switchyard: could not build the HTTP/3 addon (needs a C compiler, Node headers and the ngtcp2/nghttp3/GnuTLS development packages); listeners with http3: true are refused');
}
