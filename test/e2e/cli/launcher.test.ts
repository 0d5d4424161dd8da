// The `switchyard` bin runs the project on Node 24 however it is launched: through npm's .bin link, with
// npx, or by an older system Node that finds the Node 24 of the `node` dependency and hands over to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../support/run-switchyard.ts';

const run = promisify(execFile);
const bin = path.join(projectRoot, 'node_modules', '.bin', 'switchyard');
const probe = ['-e', 'process.stdout.write(process.versions.node)'];

test('node_modules/.bin/switchyard runs on Node 24 even from a shell whose node is older', async () => {
  const { stdout } = await run(bin, ['--version'], { cwd: projectRoot });
  assert.equal(stdout.trim(), 'switchyard 0.1.0');
  const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find((file) => existsSync(file));
  if (systemNode) {
    const version = (await run(systemNode, probe)).stdout;
    // Whatever the system Node is, the launcher reaches the command (handing over when it is older than 24).
    // (help, not `check demo/switchyard.yaml`: the demo config names a token secret that `npm start` creates)
    const viaSystem = await run(systemNode, [path.join(projectRoot, 'bin', 'switchyard.cjs'), 'help'], { cwd: projectRoot }).catch((err) => err);
    assert.equal(viaSystem.code ?? 0, 0, `system node ${version}: ${viaSystem.stderr}`);
    assert.match(viaSystem.stdout, /usage: switchyard <command>/);
  }
});

test('npx switchyard works and unknown commands exit 2 with a hint', async () => {
  const { stdout } = await run('npx', ['--no-install', 'switchyard', 'help'], { cwd: projectRoot });
  assert.match(stdout, /usage: switchyard <command>/);
  assert.match(stdout, /check +validate a config file/);
  const unknown = await run(bin, ['frobnicate'], { cwd: projectRoot }).catch((err) => err);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});
