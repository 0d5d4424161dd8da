// HTTP/2 over TLS benchmark (issue 3, "Performance"): h2load against Switchyard's https listener and
// against nginx (http2 on, same certificate, same HTTP/1.1 origin, one worker each), both pinned to one
// CPU with the load generator and the origin on the other, in interleaved rounds. Measures:
//   h2     — requests/s and p99 with ALPN h2, 50 connections × 10 streams
//   hs     — new TLS handshakes/s (1000 connections, one request each)
//   h1tls  — requests/s with ALPN http/1.1 over TLS, 50 connections
// Targets (--targets): switchyard (tuned like nginx), switchyard-defaults (only a pool and a listener
// written), each also as …-grpc-route: the same listener with a second route to a gRPC pool (the gRPC
// origin of bench/grpc), which h2load never calls — the listener's HTTP/2 must not depend on its routes;
// switchyard-system-malloc; nginx.
//
// usage: node_modules/.bin/node bench/h2.ts [--rounds 3] [--duration 8] [--results bench/RESULTS-h2.md]
// --results replaces the generated part of the file and keeps its hand-written sections (from the first "## ").
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcessSet, nginxTlsConf, describeMachine, freePort, machineFacts, markdownTable, median, parseOptions, processTree, runH2load, treeCpuSeconds, type H2loadResult, foreignCpuMeter, waitForQuietMachine, usage, waitForPort, writeKeepingSections, type ManagedProcess } from './common/index.ts';
import { ensureSelfSigned } from '../src/tls/index.ts';
import { switchyardConfig, switchyardDefaultsConfig } from './http1/switchyard-config.ts';

const spec = {
  rounds: { default: 3, help: 'interleaved rounds (medians over these)' },
  duration: { default: 8, help: 'seconds per h2load throughput run' },
  connections: { default: 50, help: 'h2load clients' },
  streams: { default: 10, help: 'concurrent streams per connection (h2)' },
  handshakes: { default: 1000, help: 'connections of the handshake run (one request each)' },
  proxy_cpu: { default: '0', help: 'CPU the proxies are pinned to' },
  load_cpu: { default: '1', help: 'CPU h2load and the origin are pinned to' },
  results: { default: '', help: 'also write the report to this file, e.g. bench/RESULTS-h2.md' },
  noise_limit: { default: 0.3, help: 'before each h2 run, wait until other processes use less than this many cores' },
  quiet_wait: { default: 20, help: 'seconds to wait at most for that quiet moment' },
  system_malloc: { default: false, help: 'also run a Switchyard whose workers keep glibc malloc (runtime.allocator: system)' },
  targets: { default: 'switchyard,nginx', help: 'comma list: switchyard, switchyard-grpc-route, switchyard-defaults, switchyard-defaults-grpc-route, switchyard-system-malloc, nginx' },
  h2_only: { default: false, help: 'skip the handshake and HTTP/1.1-over-TLS runs' },
  help: { default: false, help: 'this text' },
};
const options = parseOptions(process.argv.slice(2), spec);
if (options.help) {
  process.stdout.write(`usage: node_modules/.bin/node bench/h2.ts [options]\n${usage(spec)}\n`);
  process.exit(0);
}
const root = path.resolve(import.meta.dirname, '..');
const log = (text: string): boolean => process.stderr.write(`${text}\n`);

interface Target {
  key: string;
  port: number;
  process: ManagedProcess;
}

interface Run {
  target: string;
  h2: number;
  p99: number;
  /** CPU time of the proxy's processes per h2 request (µs): steadier than req/s on a shared machine. */
  cpu: number;
  /** CPU cores other processes of the machine used during the h2 run. */
  foreign: number;
  hs: number;
  h1: number;
}

/** h2load pinned to the load CPU, bounded by the run's duration. */
function h2load(args: string[], logFile?: string): Promise<H2loadResult> {
  return runH2load(args, { cpus: options.load_cpu, timeoutMs: (options.duration + 60) * 1000, logFile });
}

function nginxConf(dir: string, port: number, upstream: string, cert: string, key: string): string {
  return nginxTlsConf({
    dir,
    port,
    cert,
    key,
    upstream: `upstream origin { server ${upstream}; keepalive 1024; }`,
    pass: 'proxy_pass http://origin;\n      proxy_http_version 1.1;\n      proxy_set_header Connection "";\n      proxy_set_header Host $http_host;',
    setHeader: 'proxy_set_header',
  });
}

const knownTargets = ['switchyard', 'switchyard-grpc-route', 'switchyard-defaults', 'switchyard-defaults-grpc-route', 'switchyard-system-malloc', 'nginx'];
const wanted = new Set(options.targets.split(',').map((name) => name.trim()).filter(Boolean));
if (options.system_malloc) wanted.add('switchyard-system-malloc');
for (const name of wanted) if (!knownTargets.includes(name)) throw new Error(`unknown target ${name} (known: ${knownTargets.join(', ')})`);
if (!wanted.has('nginx')) throw new Error('the nginx target is the reference of every ratio: keep it in --targets');

/** The Switchyard config of a target; grpcOrigin: the gRPC pool's backend for the …-grpc-route targets. */
function switchyardConf(key: string, port: number, upstream: string, cert: string, key_: string, grpcOrigin: string): string {
  const grpcRoute = key.endsWith('-grpc-route') ? grpcOrigin : undefined;
  if (key.startsWith('switchyard-defaults')) return switchyardDefaultsConfig({ listenPort: port, upstream, tls: { cert, key: key_ }, grpcRoute });
  const allocator = key === 'switchyard-system-malloc' ? 'system' : 'auto';
  return switchyardConfig({ workers: 1, listenPort: port, upstream, runtime: `{ allocator: ${allocator} }`, tls: { cert, key: key_ }, grpcRoute });
}

const processes = new ProcessSet();
const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-h2-'));
try {
  const facts = await machineFacts({ nginx: [['nginx', '-v'], /nginx\/(\S+)/], h2load: [['h2load', '--version'], /nghttp2\/(\S+)/] });
  const certs = await ensureSelfSigned(dir, 'bench', ['localhost', '127.0.0.1']);
  const origin = processes.spawn('origin', [process.execPath, path.join(root, 'bench', 'http1', 'origin.ts'), '--parent', String(process.pid)], { cpus: options.load_cpu });
  const upstream = `127.0.0.1:${Number((await origin.waitForLine((line) => line.startsWith('listening '), 10_000)).split(' ')[1])}`;

  // the gRPC pool's backend of the …-grpc-route targets (h2load never calls it; it answers the pool's sessions)
  let grpcOrigin = '';
  if ([...wanted].some((key) => key.endsWith('-grpc-route'))) {
    const grpc = processes.spawn('grpc-origin', [process.execPath, path.join(root, 'bench', 'grpc', 'origin.ts'), '--parent', String(process.pid)], { cpus: options.load_cpu });
    grpcOrigin = `127.0.0.1:${Number((await grpc.waitForLine((line) => line.startsWith('listening '), 10_000)).split(' ')[1])}`;
  }

  const targets: Target[] = [];
  for (const key of knownTargets.filter((name) => name !== 'nginx' && wanted.has(name))) {
    // switchyard-system-malloc: the workers on glibc's malloc, what the default jemalloc preload is worth
    const port = await freePort();
    const home = path.join(dir, key);
    await mkdir(home);
    await writeFile(path.join(home, 'switchyard.yaml'), switchyardConf(key, port, upstream, certs.cert, certs.key, grpcOrigin));
    const proc = processes.spawn(key, [process.execPath, path.join(root, 'src', 'cli', 'main.ts'), 'start', '-c', path.join(home, 'switchyard.yaml')], { cpus: options.proxy_cpu, cwd: home });
    await waitForPort('127.0.0.1', port, 20_000);
    targets.push({ key, port, process: proc });
  }

  const ngDir = path.join(dir, 'nginx');
  await mkdir(ngDir);
  const ngPort = await freePort();
  await writeFile(path.join(ngDir, 'nginx.conf'), nginxConf(ngDir, ngPort, upstream, certs.cert, certs.key));
  const ng = processes.spawn('nginx', ['nginx', '-c', path.join(ngDir, 'nginx.conf'), '-p', ngDir], { cpus: options.proxy_cpu });
  await waitForPort('127.0.0.1', ngPort, 10_000);
  targets.push({ key: 'nginx', port: ngPort, process: ng });

  const url = (target: Target) => `https://127.0.0.1:${target.port}/`;
  const h2Args = (target: Target, seconds: number) => ['-c', String(options.connections), '-m', String(options.streams), '-t', '1', '-D', String(seconds), url(target)];
  for (const target of targets) {
    const warm = await h2load(h2Args(target, 3));
    if (!warm.ok) throw new Error(`${target.key}: warm-up failed:\n${warm.text.slice(-1500)}`);
  }

  const runs: Run[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of round % 2 === 1 ? targets : [...targets].reverse()) {
      const pids = await processTree(target.process.pid);
      const ours = () => [...pids, origin.pid];
      await waitForQuietMachine(options.noise_limit, options.quiet_wait * 1000, ours);
      const meter = await foreignCpuMeter(ours);
      const cpuBefore = await treeCpuSeconds(pids);
      const h2 = await h2load(h2Args(target, options.duration), path.join(dir, `${target.key}-${round}.log`));
      const cpu = ((await treeCpuSeconds(pids)) - cpuBefore) * 1e6 / Math.max(1, h2.done);
      const { foreignCores: foreign } = await meter.stop();
      if (!h2.ok) log(`${target.key}: h2 run had failures:\n${h2.text.slice(-800)}`);
      const hs = options.h2_only ? Number.NaN : (await h2load(['-c', String(options.handshakes), '-n', String(options.handshakes), '-m', '1', '-t', '1', url(target)])).requestsPerSecond;
      const h1 = options.h2_only ? Number.NaN : (await h2load(['--h1', '-c', String(options.connections), '-m', '1', '-t', '1', '-D', String(options.duration), url(target)])).requestsPerSecond;
      runs.push({ target: target.key, h2: h2.requestsPerSecond, p99: h2.p99, cpu, foreign, hs, h1 });
      log(`round ${round} ${target.key}: h2 ${h2.requestsPerSecond.toFixed(0)} req/s (p99 ${h2.p99.toFixed(2)} ms${h2.ok ? '' : ', FAILURES'}, ${cpu.toFixed(1)} µs CPU/req, others ${foreign.toFixed(2)} cores)${options.h2_only ? '' : `, handshakes ${hs.toFixed(0)}/s, h1/TLS ${h1.toFixed(0)} req/s`}`);
      await rm(path.join(dir, `${target.key}-${round}.log`), { force: true });
    }
  }

  const med = (key: string, field: keyof Omit<Run, 'target' | 'foreign'>) => median(runs.filter((run) => run.target === key).map((run) => run[field]));
  const fixed = (value: number, digits: number, suffix = ''): string => (Number.isFinite(value) ? `${value.toFixed(digits)}${suffix}` : '–');
  const rows = targets.map((target) => [target.key, fixed(med(target.key, 'h2'), 0), fixed(med(target.key, 'p99'), 2), fixed(med(target.key, 'cpu'), 1), fixed(med(target.key, 'hs'), 0), fixed(med(target.key, 'h1'), 0)]);
  const ratio = (key: string, field: keyof Omit<Run, 'target' | 'foreign'>) => med(key, field) / med('nginx', field);
  for (const target of targets.filter((t) => t.key !== 'nginx')) {
    rows.push([`${target.key} / nginx`, ...(['h2', 'p99', 'cpu', 'hs', 'h1'] as const).map((field) => fixed(ratio(target.key, field), 2, ' ×'))]);
  }
  rows.push(['target', wanted.has('switchyard-grpc-route') ? '≥ 0.6 × (≥ 1.0 × with a gRPC route)' : '≥ 0.6 ×', '≤ 2 ×', '', '≥ 0.7 ×', '≥ 0.8 ×']);
  const table = markdownTable(
    [{ title: 'target' }, { title: 'h2 req/s', align: 'right' }, { title: 'h2 p99 ms', align: 'right' }, { title: 'h2 CPU µs/req', align: 'right' }, { title: 'TLS handshakes/s', align: 'right' }, { title: 'h1/TLS req/s', align: 'right' }],
    rows,
  );
  const command = `node_modules/.bin/node bench/h2.ts ${process.argv.slice(2).join(' ')}`.trim();
  const report = `# HTTP/2 over TLS: Switchyard vs nginx

\`${command}\` — medians of ${options.rounds} interleaved rounds. h2: \`h2load -c ${options.connections} -m ${options.streams} -t 1 -D ${options.duration}\` (ALPN h2);
handshakes: \`h2load -c ${options.handshakes} -n ${options.handshakes} -m 1\` (one request per new TLS connection); h1/TLS: \`h2load --h1 -c ${options.connections} -D ${options.duration}\`.
Each proxy: one worker pinned to CPU ${options.proxy_cpu} (taskset); h2load and the origin (bench/http1/origin.ts, 5-byte body) on CPU ${options.load_cpu}.
"h2 CPU µs/req": user + system CPU time of the proxy's processes (/proc/PID/stat) during the h2 run, divided by the requests done.
Each h2 run starts once other processes use < ${options.noise_limit} cores (waiting ${options.quiet_wait} s at most); what they used during the run is listed per round.
"switchyard" is tuned as nginx is (access log off, 1024 idle upstream connections) and otherwise at its defaults: one worker with jemalloc preloaded (\`runtime.allocator: auto\` with an https listener) and a 4 MB semi-space.
"switchyard-defaults": only a pool and an https listener written (bench/http1/switchyard-config.ts \`switchyardDefaultsConfig\`): the access log as JSON on stdout (read by the bench, as a log collector would), \`keepalive.max_idle: auto\`.
"…-grpc-route": the same listener also routes \`/switchyard.bench.Echo/\` to a gRPC pool (\`protocol: grpc\`, backend bench/grpc/origin.ts); h2load's requests take the HTTP/1.1 route.${options.system_malloc || wanted.has('switchyard-system-malloc') ? `
"switchyard-system-malloc": the same with \`runtime: { allocator: system }\` (glibc's malloc).` : ''}
Same ECDSA P-256 certificate, TLS 1.2/1.3, AEAD suites; nginx ${facts.versions.nginx} with \`listen … ssl http2\`; upstream keep-alive 1024 idle connections on both (500 concurrent h2 streams become up to 500 HTTP/1.1 upstream requests at once; with 64, both would open and close connections per request); access logs off on both.

Date: ${new Date().toISOString()}; machine: ${describeMachine(facts)}

${table}

Every round (the spread shows how quiet the machine was):

${runs.map((run) => `- ${run.target}: h2 ${run.h2.toFixed(0)} req/s, p99 ${run.p99.toFixed(2)} ms, ${run.cpu.toFixed(1)} µs CPU/req (others used ${run.foreign.toFixed(2)} cores)${options.h2_only ? '' : `, ${run.hs.toFixed(0)} handshakes/s, h1/TLS ${run.h1.toFixed(0)} req/s`}`).join('\n')}
`;
  process.stdout.write(`${report}\n`);
  if (options.results) await writeKeepingSections(path.resolve(root, options.results), report);
} finally {
  await processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}
