// Builds the DNS server's batched UDP addon (udp_batch.c: recvmmsg/sendmmsg) during `npm install`
// (scripts/install.cjs) with scripts/native-addon.cjs. Never fails the install: without the addon the DNS
// server uses node:dgram (src/dns/udp-batch.ts), which answers the same, one datagram per system call.
'use strict';
const { buildAddon, addonPath } = require('../../../scripts/native-addon.cjs');

if (process.platform !== 'linux') {
  console.log('switchyard: the batched UDP addon is Linux-only; DNS over UDP uses node:dgram');
} else if (buildAddon({ dir: __dirname, name: 'switchyard_udp', source: 'udp_batch.c', warnings: ['-Wall', '-Wextra'] })) {
  console.log(`switchyard: built DNS UDP addon ${addonPath(__dirname, 'switchyard_udp')}`);
} else {
  console.warn('switchyard: could not build the DNS UDP addon (needs a C compiler and Node headers); DNS over UDP uses node:dgram');
}
