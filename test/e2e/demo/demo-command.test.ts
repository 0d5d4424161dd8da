// `switchyard demo` (npm start) as a user runs it: it prints what runs where and three commands; the
// printed dig and curl commands work exactly as printed; Ctrl-C (SIGINT to the process group, as a
// terminal sends it) stops the edge and every application server; a second run reuses the data directory.
// The demo runs its instances on the fixed addresses of its config, so this test gives it a copy of
// demo/switchyard.yaml with ports that were free a moment ago; if one was taken meanwhile, the demo
// refuses to start and the test tries again with other ports.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';
import { projectRoot } from './helpers/app-process.ts';
import { lastFreePort, retryOnAddressInUse } from '../../support/ports.ts';

const run = promisify(execFile);

/** Writes dir/switchyard.yaml: the demo's config on ports that were free a moment ago. */
async function writeConfig(dir: string): Promise<void> {
  const ports = new Set<number>();
  while (ports.size < 8) ports.add(await lastFreePort());
  const [web, plain, dns, admin, ...backends] = [...ports];
  const doc = parseDocument(await readFile(path.join(projectRoot, 'demo', 'switchyard.yaml'), 'utf8'));
  doc.set('data_dir', './data');
  doc.setIn(['admin', 'listen'], `127.0.0.1:${admin}`);
  doc.setIn(['dns', 'listen'], [`udp://127.0.0.1:${dns}`, `tcp://127.0.0.1:${dns}`]);
  doc.setIn(['pools', 'users', 'backends'], backends.slice(0, 2).map((port) => ({ address: `127.0.0.1:${port}` })));
  doc.setIn(['pools', 'orders', 'backends'], backends.slice(2).map((port) => ({ address: `127.0.0.1:${port}` })));
  doc.setIn(['listeners', 0, 'listen'], `127.0.0.1:${web}`);
  doc.setIn(['listeners', 0, 'routes', 3, 'static', 'root'], path.join(projectRoot, 'demo', 'public'));
  doc.setIn(['listeners', 1, 'listen'], `127.0.0.1:${plain}`);
  doc.setIn(['listeners', 1, 'routes', 0, 'redirect', 'port'], web);
  await writeFile(path.join(dir, 'switchyard.yaml'), doc.toString());
}

/** The demo in dir on fresh ports, again on other ones when a port was taken before the demo bound it. */
const startDemoOnFreePorts = (dir: string): Promise<DemoRun> =>
  retryOnAddressInUse(async () => {
    await writeConfig(dir);
    return startDemo(dir);
  });

interface DemoRun {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startDemo(dir: string): Promise<DemoRun> {
  // detached: its own process group, so the test can send SIGINT to the whole group like a terminal's Ctrl-C.
  const child = spawn(process.execPath, [path.join(projectRoot, 'src', 'cli', 'main.ts'), 'demo', '-c', 'switchyard.yaml'], {
    cwd: dir,
    env: { ...process.env, DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within 30s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk;
      if (output.includes('Try:') && output.includes('/etc/hosts')) {
        clearTimeout(timer);
        resolve({ child, output: () => output, exited });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited with ${code} before its banner:\n${output}`));
    });
  });
}

/** Signals the demo's process group; it may be gone already. */
function signalGroup(demo: DemoRun, signal: NodeJS.Signals): void {
  try {
    process.kill(-demo.child.pid!, signal);
  } catch {
    // ESRCH: every process of the group has exited
  }
}

async function interrupt(demo: DemoRun): Promise<number | null> {
  if (demo.child.exitCode === null) signalGroup(demo, 'SIGINT');
  const timer = setTimeout(() => signalGroup(demo, 'SIGKILL'), 20_000);
  const code = await demo.exited;
  clearTimeout(timer);
  return code;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('switchyard demo', { timeout: 90_000 }, () => {
  let dir: string;
  let demo: DemoRun | undefined;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'demo-command-'));
  });

  after(async () => {
    if (demo) await interrupt(demo);
    await rm(dir, { recursive: true, force: true });
  });

  it('prints what runs where, and the printed dig and curl commands work as printed', async () => {
    demo = await startDemoOnFreePorts(dir);
    const banner = demo.output();
    assert.match(banner, /users-1 127\.0\.0\.1:\d+ \(pid \d+\), users-2/);
    assert.match(banner, /orders-1 127\.0\.0\.1:\d+ \(pid \d+\), orders-2/);
    assert.match(banner, /database {2}sqlite data\/demo\.sqlite/);

    const dig = /^ {2}(dig @127\.0\.0\.1 -p \d+ api\.example\.test)$/m.exec(banner)?.[1];
    assert.ok(dig, banner);
    const { stdout: answer } = await run('sh', ['-c', `${dig} +time=2 +tries=1`], { cwd: dir });
    assert.match(answer, /api\.example\.test\.\s+\d+\s+IN\s+CNAME\s+lb\.example\.test\./);
    assert.match(answer, /lb\.example\.test\.\s+\d+\s+IN\s+A\s+127\.0\.0\.1/);

    const curl = /^ {2}(curl --cacert \S+ --resolve \S+ https:\/\/api\.example\.test:\d+\/api\/users)$/m.exec(banner)?.[1];
    assert.ok(curl, banner);
    const { stdout: body } = await run('sh', ['-c', `${curl} --fail --silent --show-error`], { cwd: dir });
    assert.match(body, /"username":"demo"/);
    assert.match(banner, /^ {2}https:\/\/example\.test:\d+\/ /m);
  });

  it('stops the edge and every application server on Ctrl-C', async () => {
    const pids = [...demo!.output().matchAll(/\(pid (\d+)\)/g)].map((match) => Number(match[1]));
    assert.equal(pids.length, 4);
    const code = await interrupt(demo!);
    assert.equal(code, 0, demo!.output().slice(-2000));
    assert.match(demo!.output(), /demo stopped/);
    assert.deepEqual(pids.filter(alive), []);
  });

  it('reuses the data directory on the next run', async () => {
    const secret = await readFile(path.join(dir, 'data', 'jwt.secret'), 'utf8');
    const firstUsers = (await readFile(path.join(dir, 'data', 'logs', 'users-1.log'), 'utf8')).split('\n').length;
    demo = await startDemoOnFreePorts(dir);
    assert.equal(await readFile(path.join(dir, 'data', 'jwt.secret'), 'utf8'), secret);
    assert.ok((await readFile(path.join(dir, 'data', 'logs', 'users-1.log'), 'utf8')).split('\n').length > firstUsers, 'logs are appended');
    assert.equal(await interrupt(demo), 0);
    demo = undefined;
  });
});
