// Builds the DNS server's batched UDP addon (udp_batch.c: recvmmsg/sendmmsg) during `npm install`
// (scripts/install.cjs), the way src/diag/native/build.cjs builds the ICMP addon: node-gyp against the
// installed Node headers, else a plain `cc`. Never fails the install: without the addon the DNS server
// uses node:dgram (src/dns/udp-batch.ts), which answers the same, one datagram per system call.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const output = path.join(here, 'build', 'Release', 'switchyard_udp.node');
const headerDirs = [process.env.SWITCHYARD_NODE_HEADERS, '/usr/include/node', '/usr/local/include/node'].filter(Boolean);
const headers = headerDirs.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));

function run(command, args) {
  return spawnSync(command, args, { cwd: here, stdio: 'inherit' }).status === 0;
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
    '-DNODE_GYP_MODULE_NAME=switchyard_udp', `-I${headers}`, 'udp_batch.c', '-o', output];
  return run('cc', args) && fs.existsSync(output);
}

if (process.platform !== 'linux') {
  console.log('switchyard: the batched UDP addon is Linux-only; DNS over UDP uses node:dgram');
} else if (viaNodeGyp() || viaCc()) {
  console.log(`switchyard: built DNS UDP addon ${path.relative(process.cwd(), output)}`);
} else {
  console.warn('switchyard: could not build the DNS UDP addon (needs a C compiler and Node headers); DNS over UDP uses node:dgram');
}
