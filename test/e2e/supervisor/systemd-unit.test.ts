// The systemd unit in docs/operations.md ("Running under systemd") is one systemd accepts without a word:
// `systemd-analyze verify` (Debian package systemd, installed by scripts/ensure-test-tools.ts) reports
// unknown keys, bad values and missing executables; the unit's switchyard path points at this checkout's.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../support/run-switchyard.ts';

const run = promisify(execFile);
const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-unit-'));
after(() => rm(dir, { recursive: true, force: true }));

/** stdout + stderr of `systemd-analyze verify FILE`, and its exit code. */
async function verify(file: string): Promise<{ code: number; output: string }> {
  return run('systemd-analyze', ['verify', '--man=no', file]).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (err: { code: number | string; stdout?: string; stderr?: string; message: string }) => {
      if (err.code === 'ENOENT') throw new Error('systemd-analyze is missing: run node scripts/ensure-test-tools.ts (installs systemd)');
      return { code: Number(err.code), output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
    },
  );
}

async function documentedUnit(): Promise<string> {
  const doc = await readFile(path.join(projectRoot, 'docs', 'operations.md'), 'utf8');
  const section = doc.indexOf('## Running under systemd');
  assert.ok(section >= 0, 'docs/operations.md has a systemd section');
  const start = doc.indexOf('```ini\n', section) + '```ini\n'.length;
  const end = doc.indexOf('```', start);
  assert.ok(start > section && end > start, 'the section holds an ini block');
  return doc.slice(start, end).replaceAll('/usr/local/bin/switchyard', path.join(projectRoot, 'bin', 'switchyard.cjs'));
}

test('systemd-analyze verify accepts the unit of docs/operations.md without a warning', async () => {
  const unit = await documentedUnit();
  assert.match(unit, /KillMode=control-group/);
  assert.match(unit, /CapabilityBoundingSet=CAP_NET_BIND_SERVICE/);
  const file = path.join(dir, 'switchyard.service');
  await writeFile(file, unit);
  const result = await verify(file);
  assert.deepEqual(result, { code: 0, output: '' });

  // The verifier does speak up: the same unit with a misspelt key is reported.
  const misspelt = path.join(dir, 'misspelt.service');
  await writeFile(misspelt, unit.replace('KillMode=', 'KilMode='));
  assert.match((await verify(misspelt)).output, /Unknown key 'KilMode'/);
});
