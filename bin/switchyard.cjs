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

if (major >= 24) {
  import(require('node:url').pathToFileURL(entry).href)
    .then((cli) => cli.main(process.argv.slice(2)))
    .then((code) => {
      process.exitCode = code;
    })
    .catch((err) => {
      process.stderr.write(`switchyard: ${err && err.message ? err.message : err}\n`);
      process.exit(1);
    });
} else {
  const candidates = [
    path.join(root, 'node_modules', 'node', 'bin', 'node'),
    path.join(root, 'node_modules', '.bin', 'node'),
  ];
  const node24 = candidates.find((file) => fs.existsSync(file));
  if (!node24) {
    process.stderr.write(`switchyard: needs Node.js 24 (running ${process.version}); run npm install first\n`);
    process.exit(1);
  }
  const child = spawn(node24, [entry, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Signals reach the whole foreground process group already; forwarding covers kill(1) aimed at us alone.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code === null ? 1 : code);
  });
}
