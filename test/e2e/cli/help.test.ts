// `switchyard start --help` as a user types it: a real process, help on stdout, exit 0, nothing started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cliEntry, node24, projectRoot } from '../../support/run-switchyard.ts';

const run = promisify(execFile);

test('switchyard start --help and switchyard help start print the options, defaults and examples, exit 0', async () => {
  const viaFlag = await run(node24, [cliEntry, 'start', '--help'], { cwd: projectRoot, timeout: 20_000 });
  assert.match(viaFlag.stdout, /^usage: switchyard start -c FILE/);
  assert.match(viaFlag.stdout, /-c, --config FILE/);
  assert.match(viaFlag.stdout, /-w, --workers N/);
  assert.match(viaFlag.stdout, /examples:\n {2}switchyard start -c switchyard\.yaml/);
  assert.equal(viaFlag.stderr, '');
  const viaHelp = await run(node24, [cliEntry, 'help', 'start'], { cwd: projectRoot, timeout: 20_000 });
  assert.equal(viaHelp.stdout, viaFlag.stdout);
  const viaShort = await run(node24, [cliEntry, 'start', '-c', 'missing.yaml', '-h'], { cwd: projectRoot, timeout: 20_000 });
  assert.equal(viaShort.stdout, viaFlag.stdout);
});
