// `switchyard reload -c FILE` does what it says: with an admin API the edge loads FILE (and SIGHUP re-reads
// FILE from then on); without one, a FILE other than the edge's own is refused with the file the edge runs;
// and a run record left by a killed edge never gets a stranger's pid signalled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runSwitchyard, cliEntry, node24, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import type { EchoOrigin } from '../../support/origins.ts';
import { supervisorKit, originOf, onePoolConfig } from './helpers.ts';

const run = promisify(execFile);
const kit = supervisorKit();
const { defer, origin } = kit;
const edge = (yaml: string): Promise<RunningSwitchyard> => kit.edge(yaml, { args: ['--workers', '1'] });

const config = (backend: EchoOrigin, options: { admin?: boolean } = {}): string => (options.admin === false ? onePoolConfig(backend.address, '') : onePoolConfig(backend.address));

/** Runs the CLI; resolves with exit code and output whether it succeeded or not. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(node24, [cliEntry, ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

test('reload -c OTHER through the admin API: the edge serves OTHER, and SIGHUP then re-reads OTHER', async () => {
  const a = await origin('a');
  const b = await origin('b');
  const running = await edge(config(a));
  assert.equal(await originOf(running.url('web')), 'a');

  const other = path.join(running.dir, 'other.yaml');
  await writeFile(other, config(b));
  const result = await cli(['reload', '-c', other]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`reloaded: the edge \\(pid \\d+\\) runs ${other}`));
  assert.equal(await originOf(running.url('web')), 'b');
  const record = JSON.parse(await readFile(path.join(running.dir, 'data', 'switchyard.run.json'), 'utf8'));
  assert.equal(record.config, other);

  // SIGHUP re-reads the file the edge now runs, not its start-up file.
  await writeFile(running.configFile, config(b).replace(b.address, '127.0.0.1:1'));
  await writeFile(other, config(a));
  const earlier = new Set(running.lines);
  running.process.kill('SIGHUP');
  const reloaded = await running.waitForLine((line) => line.msg === 'reloaded' && !earlier.has(line));
  assert.equal(reloaded.config, other);
  assert.equal(await originOf(running.url('web')), 'a');
});

test('reload -c FILE from another directory is refused by the edge, naming the config it runs', async () => {
  const a = await origin('a');
  const running = await edge(config(a));
  const elsewhere = await mkdtemp(path.join(tmpdir(), 'switchyard-elsewhere-'));
  defer(() => rm(elsewhere, { recursive: true, force: true }));
  const copy = path.join(elsewhere, 'copy.yaml');
  await writeFile(copy, config(a));
  // The copy's data_dir (./data beside it) holds no run record: the command says so and names --data-dir.
  const lost = await cli(['reload', '-c', copy]);
  assert.equal(lost.code, 1);
  assert.match(lost.stderr, /no .*switchyard\.run\.json: no switchyard runs with data_dir .*--data-dir/);
  const refused = await cli(['reload', '-c', copy, '--data-dir', path.join(running.dir, 'data')]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`is not in ${running.dir}, the directory of the running config ${running.configFile}`));
  assert.equal(await originOf(running.url('web')), 'a');
});

test('without an admin API, reload -c OTHER is refused with the file the edge runs; its own file reloads by SIGHUP', async () => {
  const a = await origin('a');
  const b = await origin('b');
  const running = await edge(config(a, { admin: false }));
  const other = path.join(running.dir, 'other.yaml');
  await writeFile(other, config(b, { admin: false }));
  const refused = await cli(['reload', '-c', other]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`runs ${running.configFile}, and without an admin API it can only re-read that file`));
  assert.equal(await originOf(running.url('web')), 'a');

  await writeFile(running.configFile, config(b, { admin: false }));
  const earlier = new Set(running.lines);
  const own = await cli(['reload', '-c', running.configFile]);
  assert.equal(own.code, 0, own.stderr);
  await running.waitForLine((line) => line.msg === 'reloaded' && !earlier.has(line));
  assert.equal(await originOf(running.url('web')), 'b');
});

test('a run record left by a killed edge is not trusted: reload signals no stranger', async () => {
  const a = await origin('a');
  const running = await runSwitchyard(config(a, { admin: false }), { args: ['--workers', '0'] });
  defer(() => running.stop());
  const runFile = path.join(running.dir, 'data', 'switchyard.run.json');
  const record = JSON.parse(await readFile(runFile, 'utf8'));
  const exited = new Promise((resolve) => running.process.once('exit', resolve));
  running.process.kill('SIGKILL');
  await exited;

  // The pid now belongs to another program (here a sleep this test owns; SIGHUP would kill it).
  const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
  defer(async () => stranger.kill('SIGKILL'));
  await writeFile(runFile, JSON.stringify({ ...record, pid: stranger.pid }));
  const result = await cli(['reload', '-c', running.configFile]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`switchyard\\.run\\.json is stale: pid ${stranger.pid} is no longer that switchyard`));
  assert.match(result.stderr, /nothing signalled/);
  assert.equal(stranger.exitCode, null);
  assert.equal(stranger.signalCode, null);

  // And the edge's own pid, gone: stale too.
  await writeFile(runFile, JSON.stringify(record));
  const gone = await cli(['reload', '-c', running.configFile]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, new RegExp(`pid ${record.pid} no longer runs`));
});

test('a reload that fails after DNS took the new zones rolls back, and nothing logs that it reloaded', async () => {
  const a = await origin('a');
  const dns = (ttl: number): string => `
dns:
  listen: [udp://127.0.0.1:0]
  zones:
    - origin: shop.test.
      ttl: ${ttl}
      soa: { mname: ns1.shop.test., rname: hostmaster.shop.test. }
      records:
        - { name: "@", type: A, value: 127.0.0.1 }
`;
  const running = await edge(config(a) + dns(300));
  const earlier = new Set(running.lines);
  // Valid, and DNS applies it; then the traffic side cannot listen on an address this host does not have.
  await writeFile(running.configFile, `${config(a)}  - name: elsewhere\n    listen: 192.0.2.1:0\n    routes:\n      - match: { path_prefix: / }\n        pool: app\n${dns(600)}`);
  const result = await cli(['reload', '-c', running.configFile]);
  assert.equal(result.code, 1, result.stdout);
  await running.waitForLine((line) => line.msg === 'reload failed, the running config stays' && !earlier.has(line));
  const announced = running.lines.filter((line) => !earlier.has(line) && typeof line.msg === 'string' && /reloaded/.test(line.msg));
  assert.deepEqual(announced, []);
  assert.equal(await originOf(running.url('web')), 'a');
});
