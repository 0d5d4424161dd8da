#!/usr/bin/env node
// The `switchyard` command. Written as CommonJS that any Node can parse, because a shell may launch it with
// the system's older Node (node_modules/.bin/switchyard run directly): the project needs Node 24, so an older
// runtime hands over to the Node 24 that the `node` npm dependency installs. Runs the built JavaScript in
// dist/ when it is at least as new as src/ (less memory per process: no type stripping), else src/ as is.
'use strict';
const path = require('node:path');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const { distStatus } = require('./dist-fresh.cjs');

const root = path.resolve(__dirname, '..');
const entry = distStatus(root).fresh ? path.join(root, 'dist', 'cli', 'main.js') : path.join(root, 'src', 'cli', 'main.ts');
const major = Number(process.versions.node.split('.')[0]);

/**
 * The Node 24 binary of the `node` dependency: in this package's node_modules (a checkout, a global install)
 * or in an enclosing one where npm hoisted it (`npm install --prefix DIR switchyard-*.tgz`).
 */
function nodeOfDependency() {
  let dir;
  try {
    dir = path.dirname(require.resolve('node/package.json', { paths: [root] }));
  } catch {
    return undefined;
  }
  return [path.join(dir, 'bin', 'node'), path.join(dir, '..', '.bin', 'node')].find((file) => fs.existsSync(file));
}

/**
 * V8 flags for the primary of `switchyard start` (the control plane: config, health checks, admin API, no
 * traffic). Its heap is small and its code cold, so it needs neither the large young generation Node sizes
 * from the machine's memory (16 MB semi-spaces on 24 GB: ~5 MB more RSS) nor V8's optimizing compilers,
 * whose own code pages (~7 MB of RSS) are touched as soon as they run (Sparkplug, the baseline compiler,
 * stays); --optimize-for-size makes V8 favour size where it has the choice (~1 MB); --expose-gc lets it
 * collect the garbage of start-up and reloads at once (src/supervisor/control-plane.ts). V8 reads heap and
 * tiering flags at start, so they go on the command line, by executing this process again (process.execve:
 * same pid, same file descriptors) before anything else loads. The workers do not inherit them
 * (src/supervisor/worker-runtime.ts drops what SWITCHYARD_PRIMARY_FLAGS lists), and `--workers 0`, where
 * the traffic runs in this process, keeps V8's defaults; docs/operations.md, "Memory".
 */
const PRIMARY_FLAGS = ['--max-semi-space-size=1', '--max-opt=1', '--optimize-for-size', '--expose-gc'];

function primaryFlags(args) {
  if (args[0] !== 'start') return [];
  for (let i = 1; i < args.length; i++) {
    if (/^(--workers=|-w)0$/.test(args[i]) || ((args[i] === '--workers' || args[i] === '-w') && args[i + 1] === '0')) return [];
  }
  return PRIMARY_FLAGS;
}

const args = process.argv.slice(2);
const flags = primaryFlags(args);
const flagEnv = flags.length > 0 ? { ...process.env, SWITCHYARD_PRIMARY_FLAGS: flags.join(' ') } : process.env;
if (major >= 24 && flags.length > 0 && typeof process.execve === 'function' && !flags.every((flag) => process.execArgv.includes(flag))) {
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...flags, __filename, ...args], flagEnv);
}

if (major >= 24) {
  import(require('node:url').pathToFileURL(entry).href)
    .then((cli) => cli.main(args))
    .then((code) => {
      process.exitCode = code;
    })
    .catch((err) => {
      process.stderr.write(`switchyard: ${err && err.message ? err.message : err}\n`);
      process.exit(1);
    });
} else {
  const node24 = nodeOfDependency();
  if (!node24) {
    process.stderr.write(`switchyard: needs Node.js 24 (running ${process.version}); run npm install first\n`);
    process.exit(1);
  }
  // Node before 24 cannot replace its own process image, so this one stays in between until the child exits.
  const child = spawn(node24, [...flags, entry, ...args], { stdio: 'inherit', env: flagEnv });
  // Forwarded, so that kill(1) aimed at this process alone (systemd's KillMode=mixed, a supervisor that
  // signals its direct child) reaches the edge. A process-group signal (Ctrl-C, kill -- -PGID, systemd's
  // default control-group stop) reaches the child directly too: it then sees the signal twice, which it
  // tolerates — the edge drains once and ignores repeats (src/supervisor/run.ts).
  const forward = (signal) => child.kill(signal);
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const signal of signals) process.on(signal, forward);
  child.on('exit', (code, signal) => {
    for (const name of signals) process.off(name, forward);
    // Died of a signal: die of the same one, so whoever started us sees what happened.
    if (signal) process.kill(process.pid, signal);
    else process.exit(code === null ? 1 : code);
  });
}
