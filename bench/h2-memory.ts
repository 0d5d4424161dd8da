// A worker's peak memory under the HTTP/2 harness's load (issue 15: ≤ 150 MB): h2load -c 50 -m 10 over TLS
// against one Switchyard worker pinned to CPU 0, for the tuned config (access log off, 1024 idle upstream
// connections), the defaults (only a pool and an https listener: the access log as JSON on stdout, read
// here as a log collector would) and the defaults with the access log to a file or off, one after the
// other. Prints a table: req/s and the worker's VmHWM.
//
// usage: node_modules/.bin/node bench/h2-memory.ts [--duration 8] (after `npm run build`)
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcessSet, freePort, markdownTable, parseOptions, processTree, readMemory, runH2load, usage, waitForPort } from './common/index.ts';
import { switchyardConfig, switchyardDefaultsConfig } from './http1/switchyard-config.ts';
import { ensureSelfSigned } from '../src/tls/index.ts';

const spec = {
  duration: { default: 8, help: 'seconds of h2load per config' },
  help: { default: false, help: 'this text' },
};
const options = parseOptions(process.argv.slice(2), spec);
if (options.help) {
  process.stdout.write(`usage: node_modules/.bin/node bench/h2-memory.ts [options]\n${usage(spec)}\n`);
  process.exit(0);
}
const root = path.resolve(import.meta.dirname, '..');
const processes = new ProcessSet();
const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-h2-memory-'));
try {
  const certs = await ensureSelfSigned(dir, 'bench', ['localhost', '127.0.0.1']);
  const tls = { cert: certs.cert, key: certs.key };
  const origin = processes.spawn('origin', [process.execPath, path.join(root, 'bench', 'http1', 'origin.ts'), '--parent', String(process.pid)], { cpus: '1' });
  const upstream = `127.0.0.1:${Number((await origin.waitForLine((line) => line.startsWith('listening '), 10_000)).split(' ')[1])}`;
  const configs: [string, (port: number) => string][] = [
    ['tuned (access log off, 1024 idle upstream connections)', (port) => switchyardConfig({ workers: 1, listenPort: port, upstream, tls })],
    ['defaults (access log on stdout)', (port) => switchyardDefaultsConfig({ listenPort: port, upstream, tls })],
    ['defaults, access log to a file', (port) => `log: { access_log: ${JSON.stringify(path.join(dir, 'access.log'))} }\n${switchyardDefaultsConfig({ listenPort: port, upstream, tls })}`],
    ['defaults, access log off', (port) => `log: { access_log: "off" }\n${switchyardDefaultsConfig({ listenPort: port, upstream, tls })}`],
  ];
  const rows: string[][] = [];
  for (const [label, config] of configs) {
    const port = await freePort();
    const home = path.join(dir, `config-${rows.length}`);
    await mkdir(home);
    await writeFile(path.join(home, 'switchyard.yaml'), config(port));
    const proxy = processes.spawn(label, [process.execPath, path.join(root, 'bin', 'switchyard.cjs'), 'start', '-c', path.join(home, 'switchyard.yaml')], { cpus: '0', cwd: home });
    proxy.child.stdout?.resume(); // the access log's reader
    await waitForPort('127.0.0.1', port, 20_000);
    const result = await runH2load(['-c', '50', '-m', '10', '-t', '1', '-D', String(options.duration), `https://127.0.0.1:${port}/`], { cpus: '1', timeoutMs: (options.duration + 30) * 1000 });
    const workers = (await processTree(proxy.pid)).slice(1);
    const peaks = await Promise.all(workers.map(readMemory));
    const peak = Math.max(...peaks.map((memory) => memory?.hwm ?? 0));
    rows.push([label, result.requestsPerSecond.toFixed(0), (peak / 2 ** 20).toFixed(1)]);
    await processes.stop(proxy);
  }
  process.stdout.write(`\`node_modules/.bin/node bench/h2-memory.ts --duration ${options.duration}\` — ${new Date().toISOString()}; h2load -c 50 -m 10 over TLS (CPU 1), one worker pinned to CPU 0\n\n`);
  process.stdout.write(`${markdownTable([{ title: 'config' }, { title: 'h2 req/s', align: 'right' }, { title: 'worker peak RSS MB (MiB)', align: 'right' }], rows)}\n`);
} finally {
  await processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}
