// Builds one of Switchyard's native addons (src/*/native) during `npm install` (scripts/install.cjs):
// node-gyp first (npm's bundled one, found through npm_config_node_gyp), against the Node headers installed
// on the machine (/usr/include/node: N-API is ABI-stable, so the system Node's headers serve Node 24); a
// plain `cc` build as a fallback. Never throws: each addon's build.cjs says what runs without it.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const headerDirs = [process.env.SWITCHYARD_NODE_HEADERS, '/usr/include/node', '/usr/local/include/node'].filter(Boolean);
const headers = headerDirs.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));

/**
 * Builds `<dir>/build/Release/<name>.node` from `source` (in `dir`), linking `libraries`; true when it exists
 * afterwards. A failed build leaves no stale addon behind.
 */
function buildAddon({ dir, name, source, libraries = [], warnings = ['-Wall'] }) {
  const output = path.join(dir, 'build', 'Release', `${name}.node`);
  const run = (command, args) => spawnSync(command, args, { cwd: dir, stdio: 'inherit' }).status === 0;
  const viaNodeGyp = () => {
    const gyp = process.env.npm_config_node_gyp;
    if (!gyp || !fs.existsSync(gyp)) return false;
    const args = [gyp, 'rebuild', '--loglevel=warn'];
    // nodedir is the prefix whose include/node holds the headers; without it node-gyp would download them
    if (headers) args.push(`--nodedir=${path.resolve(headers, '..', '..')}`);
    return run(process.execPath, args) && fs.existsSync(output);
  };
  const viaCc = () => {
    if (!headers) return false;
    fs.mkdirSync(path.dirname(output), { recursive: true });
    const args = ['-O2', ...warnings, '-std=gnu11', '-shared', '-fPIC', '-DNAPI_VERSION=8', '-D_GNU_SOURCE', `-DNODE_GYP_MODULE_NAME=${name}`, `-I${headers}`, source, '-o', output, ...libraries];
    return run('cc', args) && fs.existsSync(output);
  };
  if (viaNodeGyp() || viaCc()) return true;
  fs.rmSync(output, { force: true });
  return false;
}

/** The addon's path relative to the working directory (for the install log). */
function addonPath(dir, name) {
  return path.relative(process.cwd(), path.join(dir, 'build', 'Release', `${name}.node`));
}

module.exports = { buildAddon, addonPath };
