// Process layout: `workers: 1` runs the traffic plane in one forked worker that holds only the traffic plane
// (no YAML parser, schema or Prometheus client), `workers: 0` runs everything in one process, a killed
// worker is replaced, and the primary's /metrics counts what every worker served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { node24, projectRoot, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import type { EchoOrigin } from '../../support/origins.ts';
import { supervisorKit, onePoolConfig } from './helpers.ts';

const { defer, origin, edge } = supervisorKit();

const config = (a: EchoOrigin): string => onePoolConfig(a.address);

async function admin(running: RunningSwitchyard, pathname: string): Promise<Response> {
  const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
  return fetch(`http://127.0.0.1:${running.ready.admin!.port}${pathname}`, { headers: { authorization: `Bearer ${token}` } });
}

async function workerPids(running: RunningSwitchyard): Promise<number[]> {
  const status = (await (await admin(running, '/api/status')).json()) as { traffic: { pid: number }[] | { listeners: unknown } };
  return Array.isArray(status.traffic) ? status.traffic.map((worker) => worker.pid) : [];
}

async function accessLogPid(running: RunningSwitchyard, url: string): Promise<unknown> {
  const requestId = `pid-${Math.random().toString(16).slice(2)}`;
  const response = await fetch(url, { headers: { 'x-request-id': requestId } });
  assert.equal(response.status, 200);
  await response.text();
  const line = await running.waitForLine((entry) => entry.log === 'access' && JSON.stringify(entry).includes(requestId));
  return line.pid;
}

test('workers: 1 forks one worker that serves the traffic and loads neither yaml, zod nor prom-client; the primary leaves yaml and zod to its config loader', async () => {
  // Every module each process resolves, recorded by a resolve hook preloaded into both processes.
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-imports-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  const hook = path.join(dir, 'record-imports.mjs');
  const record = path.join(dir, 'imports.txt');
  await writeFile(
    hook,
    `import { registerHooks } from 'node:module';\nimport { appendFileSync } from 'node:fs';\n` +
      `registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); appendFileSync(${JSON.stringify(record)}, process.pid + ' ' + result.url + '\\n'); return result; } });\n`,
  );
  const a = await origin();
  const running = await edge(config(a), { env: { NODE_OPTIONS: `--import=${hook}` } });
  const pids = await workerPids(running);
  assert.equal(pids.length, 1);
  assert.notEqual(pids[0], running.process.pid);
  assert.equal(await accessLogPid(running, running.url('web', '/')), pids[0]);

  const lines = (await readFile(record, 'utf8')).split('\n');
  const loadedBy = (pid: number, name: string): boolean => lines.some((line) => line.startsWith(`${pid} `) && line.includes(`/node_modules/${name}/`));
  for (const name of ['yaml', 'zod', 'prom-client']) {
    assert.equal(loadedBy(pids[0], name), false, `the worker does not load ${name}`);
    // the primary validates its config in a child process (src/supervisor/config-process.ts), and loads
    // prom-client with the first scrape of /metrics, which this test does not make
    assert.equal(loadedBy(running.process.pid!, name), false, `the primary does not load ${name}`);
  }
  const loader = (name: string): boolean => lines.some((line) => line.length > 0 && !line.startsWith(`${running.process.pid} `) && !line.startsWith(`${pids[0]} `) && line.includes(`/node_modules/${name}/`));
  assert.equal(loader('yaml') && loader('zod'), true, 'the config loader process loads yaml and zod');
  assert.equal(loadedBy(running.process.pid!, 'pino'), true, 'the record covers the primary');
  assert.equal(loadedBy(pids[0], 'pino'), true, 'the record covers the worker');
});

test('workers start as the runtime section says: 4 MB semi-space by default, jemalloc unless the system allocator is asked for', async () => {
  const a = await origin();
  const mapped = async (pid: number) => (await readFile(`/proc/${pid}/maps`, 'utf8')).includes('libjemalloc');
  const cmdline = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  const onlyWorker = async (running: RunningSwitchyard) => {
    const pids = await workerPids(running);
    assert.equal(pids.length, 1);
    return pids[0]!;
  };

  // auto: jemalloc when installed, also for plain HTTP (it gives memory back after load; glibc keeps it)
  const auto = await edge(config(a));
  const autoWorker = await onlyWorker(auto);
  assert.equal(await mapped(autoWorker), true, 'the worker runs on jemalloc (libjemalloc2 is installed by the test tools)');
  assert.ok((await cmdline(autoWorker)).includes('--max-semi-space-size=4'));
  assert.ok((await cmdline(autoWorker)).includes('--expose-gc'), 'the idle collector can collect');
  assert.match(await readFile(`/proc/${autoWorker}/environ`, 'utf8'), /(^|\0)MALLOC_CONF=background_thread:true(\0|$)/);

  const jemalloc = await edge(`runtime: { allocator: jemalloc }\n${config(a)}`);
  const jeWorker = await onlyWorker(jemalloc);
  assert.equal(await mapped(jeWorker), true, 'the worker runs on jemalloc (libjemalloc2 is installed by the test tools)');
  assert.equal(await mapped(jemalloc.process.pid!), false, 'the primary keeps the allocator it was started with');
  await jemalloc.waitForLine((line) => typeof line.msg === 'string' && line.msg.startsWith('workers: 1, allocator jemalloc'));
  const response = await fetch(jemalloc.url('web', '/'));
  assert.equal(response.status, 200);
  await response.text();

  const untuned = await edge(`runtime: { allocator: system, semi_space: 0mb }\n${config(a)}`);
  const untunedWorker = await onlyWorker(untuned);
  assert.equal((await cmdline(untunedWorker)).some((arg) => arg.startsWith('--max-semi-space-size')), false);
  assert.equal(await mapped(untunedWorker), false, 'system: glibc malloc');
});

test('workers: 0 serves from the one process, with the same metrics', async () => {
  const a = await origin();
  const running = await edge(config(a), { args: ['--workers', '0'] });
  assert.deepEqual(await workerPids(running), []);
  assert.equal(await accessLogPid(running, running.url('web', '/')), running.process.pid);
  const metrics = await (await admin(running, '/metrics')).text();
  assert.match(metrics, /switchyard_http_requests_total\{listener="web",route="#0",pool="app",code="2xx"\} 1\n/);
  assert.match(metrics, /switchyard_http_request_duration_seconds_bucket\{le="\+Inf",listener="web",route="#0"\} 1\n/);
  assert.match(metrics, /switchyard_pool_backend_usable\{pool="app",backend="[^"]+",state="healthy"\} 1/);
});

test('a killed worker is replaced and the new one serves', async () => {
  const a = await origin();
  const running = await edge(config(a));
  const [first] = await workerPids(running);
  assert.ok(first !== undefined);
  process.kill(first, 'SIGKILL');
  await running.waitForLine((line) => line.msg === 'worker exited; starting a new one' && line.worker === first);
  // The replacement binds the listener once it has the config: retry connections until it answers.
  let status = 0;
  const deadline = Date.now() + 10_000;
  for (let attempt = 0; attempt < 200 && status !== 200 && Date.now() < deadline; attempt++) {
    status = await fetch(running.url('web', '/'), { headers: { connection: 'close' } }).then(
      (response) => response.text().then(() => response.status),
      () => 0,
    );
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(status, 200);
  const [second] = await workerPids(running);
  assert.ok(second !== undefined && second !== first, 'a new worker process');
});

test('SIGTERM to the whole process group (systemd, kill -TERM -PGID) drains the worker too; none is restarted', async () => {
  const a = await origin();
  const running = await edge(config(a), { detached: true });
  const slow = fetch(running.url('web', '/?delay=700')).then(async (response) => ({ status: response.status, body: await response.text() }));
  // Wait until the request is in flight at the origin before signalling.
  const deadline = Date.now() + 5000;
  while (a.requests() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  process.kill(-running.process.pid!, 'SIGTERM');
  const result = await slow;
  assert.equal(result.status, 200);
  assert.match(result.body, /"origin":"a"/);
  const code = await new Promise<number | null>((resolve) => running.process.once('exit', resolve));
  assert.equal(code, 0);
  assert.equal(running.lines.filter((line) => line.msg === 'worker exited; starting a new one').length, 0);
});

test('/metrics adds up the requests of every worker', async () => {
  const a = await origin();
  const running = await edge(config(a), { args: ['--workers', '2'] });
  const total = 24;
  for (let index = 0; index < total; index += 8) {
    await Promise.all(Array.from({ length: 8 }, () => fetch(running.url('web', '/'), { headers: { connection: 'close' } }).then((response) => response.text())));
  }
  const metrics = await (await admin(running, '/metrics')).text();
  assert.match(metrics, new RegExp(`switchyard_http_requests_total\\{listener="web",route="#0",pool="app",code="2xx"\\} ${total}\\n`));
  assert.match(metrics, new RegExp(`switchyard_http_request_duration_seconds_count\\{listener="web",route="#0"\\} ${total}\\n`));
  assert.equal((metrics.match(/^switchyard_worker_resident_memory_bytes\{pid="\d+"\} \d+/gm) ?? []).length, 2);
});

test('switchyard start gives the primary its small V8 settings and the workers their own; --workers 0 keeps the defaults', async () => {
  const a = await origin();
  const cmdline = async (pid: number) => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  const launcher = [node24, path.join(projectRoot, 'bin', 'switchyard.cjs')];
  const running = await edge(config(a), { launcher });
  const primary = await cmdline(running.process.pid!);
  for (const flag of ['--max-semi-space-size=1', '--max-opt=1', '--optimize-for-size', '--expose-gc']) assert.ok(primary.includes(flag), `the primary runs with ${flag}: ${primary.join(' ')}`);
  const [worker] = await workerPids(running);
  const workerArgs = await cmdline(worker!);
  assert.ok(!workerArgs.includes('--max-opt=1') && !workerArgs.includes('--max-semi-space-size=1') && !workerArgs.includes('--optimize-for-size'), `the worker does not inherit them: ${workerArgs.join(' ')}`);
  assert.ok(workerArgs.includes('--max-semi-space-size=4'), 'the worker runs with runtime.semi_space');
  assert.equal(await accessLogPid(running, running.url('web', '/')), worker);

  const single = await edge(config(a), { launcher, args: ['--workers', '0'] });
  const own = await cmdline(single.process.pid!);
  assert.ok(!own.includes('--max-opt=1'), `--workers 0 carries the traffic in the primary, with V8's defaults: ${own.join(' ')}`);
});
