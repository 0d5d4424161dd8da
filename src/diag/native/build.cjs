// Builds the ICMP addon from source during `npm install` (package.json "install" script).
// node-gyp first (npm's bundled one, found through npm_config_node_gyp), against the Node headers installed on
// the machine (/usr/include/node: N-API is ABI-stable, so the system Node's headers serve Node 24); a plain
// `cc` build as a fallback. Never fails the install: without the addon, `switchyard ping` and `traceroute`
// say that it is missing and suggest tcping, while everything else works.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const output = path.join(here, 'build', 'Release', 'switchyard_icmp.node');
const headerDirs = [process.env.SWITCHYARD_NODE_HEADERS, '/usr/include/node', '/usr/local/include/node'].filter(Boolean);
const headers = headerDirs.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));

function run(command, args) {
  const result = spawnSync(command, args, { cwd: here, stdio: 'inherit' });
  return result.status === 0;
}

function viaNodeGyp() {
  const gyp = process.env.npm_config_node_gyp;
  if (!gyp || !fs.existsSync(gyp)) return false;
  const args = [gyp, 'rebuild', '--loglevel=warn'];
  // nodedir is the prefix whose include/node holds the headers; without it node-gyp would download them
  if (headers) args.push(`--nodedir=${path.resolve(headers, '..', '..')}`);
  return run(process.execPath, args) && fs.existsSync(output);
}

function viaCc() {
  if (!headers) return false;
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const args = ['-O2', '-Wall', '-std=gnu11', '-shared', '-fPIC', '-DNAPI_VERSION=8', '-D_GNU_SOURCE',
    '-DNODE_GYP_MODULE_NAME=switchyard_icmp', `-I${headers}`, 'icmp.c', '-o', output];
  return run('cc', args) && fs.existsSync(output);
}

if (viaNodeGyp() || viaCc()) {
  console.log(`switchyard: built ICMP addon ${path.relative(process.cwd(), output)}`);
} else {
  console.warn('switchyard: could not build the ICMP addon (needs python3, make, a C compiler and Node headers);' +
    ' `switchyard ping` and `traceroute` will be unavailable');
}
