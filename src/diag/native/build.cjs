// Builds the ICMP addon (icmp.c) during `npm install` (scripts/install.cjs) with scripts/native-addon.cjs.
// Never fails the install: without the addon, `switchyard ping` and `traceroute` say that it is missing and
// suggest tcping, while everything else works.
'use strict';
const { buildAddon, addonPath } = require('../../../scripts/native-addon.cjs');

if (buildAddon({ dir: __dirname, name: 'switchyard_icmp', source: 'icmp.c' })) {
  console.log(`switchyard: built ICMP addon ${addonPath(__dirname, 'switchyard_icmp')}`);
} else {
  console.warn('switchyard: could not build the ICMP addon (needs python3, make, a C compiler and Node headers);' +
    ' `switchyard ping` and `traceroute` will be unavailable');
}
