// gRPC unary benchmark (issue 15, "Performance"): unary calls over HTTP/2 with TLS through Switchyard (an
// https listener routing to a `protocol: grpc` pool) and through nginx (`grpc_pass`), one worker each, both
// pinned to one CPU; the load generator and the gRPC origin (bench/grpc/origin.ts, a hand-written h2c
// responder) on the other, in interleaved rounds. The load is h2load with a gRPC body: one length-prefixed
// protobuf message per call (`-d`), `content-type: application/grpc`, `te: trailers`. h2load counts HTTP
// statuses only, so each run also checks that the origin answered as many calls as h2load completed, and
// before the rounds one call through each proxy with @grpc/grpc-js checks the reply and grpc-status 0.
//
// Targets: switchyard (tuned as nginx is: access log off), switchyard-defaults (a pool and a listener only:
// the access log as JSON on stdout), nginx.
//
// usage: node_modules/.bin/node bench/grpc/run.ts [--rounds 3] [--duration 8] [--results bench/RESULTS-grpc.md]
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ProcessSet, nginxTlsConf, readCpuProfile, summarizeProfile, describeMachine, foreignCpuMeter, freePort, machineFacts, markdownTable, median, parseOptions, processTree, runH2load, treeCpuSeconds, usage, waitForPort, waitForQuietMachine, writeKeepingSections, type H2loadResult, type ManagedProcess } from '../common/index.ts';
import { ensureSelfSigned } from '../../src/tls/index.ts';

const spec = {
  rounds: { default: 3, help: 'interleaved rounds (medians over these)' },
  duration: { default: 8, help: 'seconds per h2load run' },
  connections: { default: 50, help: 'h2load clients' },
  streams: { default: 10, help: 'concurrent calls per connection' },
  proxy_cpu: { default: '0', help: 'CPU the proxies are pinned to' },
  load_cpu: { default: '1', help: 'CPU h2load and the origin are pinned to' },
  targets: { default: 'switchyard,switchyard-defaults,nginx', help: 'comma list: switchyard, switchyard-defaults, nginx' },
  results: { default: '', help: 'also write the report to this file (its hand-written sections from the first "## " are kept)' },
  noise_limit: { default: 0.3, help: 'before each run, wait until other processes use less than this many cores' },
  quiet_wait: { default: 20, help: 'seconds to wait at most for that quiet moment' },
  profile: { default: '', help: 'write V8 CPU profiles of the Switchyard targets to this directory (node --cpu-prof) and print where the time went' },
  help: { default: false, help: 'this text' },
};
const options = parseOptions(process.argv.slice(2), spec);
if (options.help) {
  process.stdout.write(`usage: node_modules/.bin/node bench/grpc/run.ts [options]\n${usage(spec)}\n`);
  process.exit(0);
}
const root = path.resolve(import.meta.dirname, '..', '..');
const log = (text: string): boolean => process.stderr.write(`${text}\n`);
const knownTargets = ['switchyard', 'switchyard-defaults', 'nginx'];
const wanted = new Set(options.targets.split(',').map((name) => name.trim()).filter(Boolean));
for (const name of wanted) if (!knownTargets.includes(name)) throw new Error(`unknown target ${name} (known: ${knownTargets.join(', ')})`);
if (!wanted.has('nginx')) throw new Error('the nginx target is the reference of every ratio: keep it in --targets');

const method = '/switchyard.bench.Echo/Unary';
/** Msg { text: "world" } (field 1, length-delimited), and the origin's reply Msg { text: "hello" }. */
const requestMessage = Buffer.from([0x0a, 0x05, ...Buffer.from('world')]);
const replyMessage = Buffer.from([0x0a, 0x05, ...Buffer.from('hello')]);
/** The call's body as it goes on the wire: uncompressed flag, 4-byte length, the message. */
const requestBody = Buffer.concat([Buffer.from([0, 0, 0, 0, requestMessage.length]), requestMessage]);

interface Target {
  key: string;
  port: number;
  process: ManagedProcess;
}

interface Run {
  target: string;
  rps: number;
  p99: number;
  /** CPU time of the proxy's processes per call (µs). */
  cpu: number;
  /** The origin's CPU per call (µs): what the shared load CPU spent answering. */
  originCpu: number;
  /** CPU cores other processes of the machine used during the run. */
  foreign: number;
}

function nginxConf(dir: string, port: number, upstream: string, cert: string, key: string): string {
  // the same forwarded headers Switchyard sets by default (X-Forwarded-For appended, X-Real-IP,
  // X-Forwarded-Proto, X-Forwarded-Host, X-Request-Id)
  return nginxTlsConf({
    dir,
    port,
    cert,
    key,
    upstream: `upstream grpc_origin { server ${upstream}; keepalive 1024; keepalive_requests 100000; keepalive_timeout 60s; }`,
    pass: 'grpc_pass grpc://grpc_origin;',
    setHeader: 'grpc_set_header',
  });
}

function switchyardConf(key: string, port: number, upstream: string, cert: string, certKey: string): string {
  const pool = `pools:
  echo:
    protocol: grpc
    backends: [ { address: ${upstream} } ]
`;
  const listener = (extra: string) => `listeners:
  - name: grpc
    listen: 127.0.0.1:${port}
    protocol: https
${extra}    tls: { certificates: [ { cert: ${cert}, key: ${certKey} } ] }
    routes:
      - { match: { path_prefix: /switchyard.bench.Echo/ }, pool: echo }
`;
  if (key === 'switchyard-defaults') return `# generated by bench/grpc — do not edit\nworkers: 1\n${pool}${listener('')}`;
  return `# generated by bench/grpc — do not edit
workers: 1
log:
  level: warn
  access_log: off
${pool}${listener('    access_log: false\n')}`;
}

/** One unary call with grpc-js through the proxy (TLS, the test certificate): the reply and status 0. */
async function checkCall(port: number, ca: Buffer): Promise<void> {
  const identity = (buffer: Buffer): Buffer => buffer;
  const Echo = grpc.makeGenericClientConstructor({ Unary: { path: method, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } }, 'Echo');
  const client = new Echo(`127.0.0.1:${port}`, grpc.credentials.createSsl(ca), { 'grpc.ssl_target_name_override': 'localhost' });
  try {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      client.makeUnaryRequest(method, identity, identity, requestMessage, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, value?: Buffer) => (err ? reject(err) : resolve(value!)));
    });
    if (!reply.equals(replyMessage)) throw new Error(`unexpected reply ${reply.toString('hex')}`);
  } finally {
    client.close();
  }
}

/** The origin's answered calls so far (it prints them on SIGUSR2). */
async function originCalls(origin: ManagedProcess): Promise<number> {
  const seq = ++countReports;
  const line = origin.waitForLine((text) => text.startsWith(`calls ${seq} `), 5000);
  origin.child.kill('SIGUSR2');
  return Number((await line).split(' ')[2]);
}
let countReports = 0;

const processes = new ProcessSet();
const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-grpc-'));
try {
  const facts = await machineFacts({ nginx: [['nginx', '-v'], /nginx\/(\S+)/], h2load: [['h2load', '--version'], /nghttp2\/(\S+)/] });
  const certs = await ensureSelfSigned(dir, 'bench', ['localhost', '127.0.0.1']);
  const ca = await readFile(certs.caCert);
  const bodyFile = path.join(dir, 'call.bin');
  await writeFile(bodyFile, requestBody);
  const origin = processes.spawn('grpc-origin', [process.execPath, path.join(root, 'bench', 'grpc', 'origin.ts'), '--parent', String(process.pid)], { cpus: options.load_cpu });
  const upstream = `127.0.0.1:${Number((await origin.waitForLine((line) => line.startsWith('listening '), 10_000)).split(' ')[1])}`;

  const targets: Target[] = [];
  for (const key of knownTargets.filter((name) => name !== 'nginx' && wanted.has(name))) {
    const port = await freePort();
    const home = path.join(dir, key);
    await mkdir(home);
    await writeFile(path.join(home, 'switchyard.yaml'), switchyardConf(key, port, upstream, certs.cert, certs.key));
    const profileDir = options.profile ? path.resolve(options.profile, key) : '';
    if (profileDir) await mkdir(profileDir, { recursive: true });
    const env = profileDir ? { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, `--cpu-prof --cpu-prof-dir=${profileDir}`].filter(Boolean).join(' ') } : undefined;
    const proc = processes.spawn(key, [process.execPath, path.join(root, 'src', 'cli', 'main.ts'), 'start', '-c', path.join(home, 'switchyard.yaml')], { cpus: options.proxy_cpu, cwd: home, env });
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

  const h2load = (target: Target, seconds: number, logFile?: string): Promise<H2loadResult> =>
    runH2load(['-c', String(options.connections), '-m', String(options.streams), '-t', '1', '-D', String(seconds), '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-d', bodyFile, `https://127.0.0.1:${target.port}${method}`], { cpus: options.load_cpu, timeoutMs: (seconds + 60) * 1000, logFile });
  for (const target of targets) {
    await checkCall(target.port, ca);
    const warm = await h2load(target, 3);
    if (!warm.ok) throw new Error(`${target.key}: warm-up failed:\n${warm.text.slice(-1500)}`);
  }

  const runs: Run[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of round % 2 === 1 ? targets : [...targets].reverse()) {
      const pids = await processTree(target.process.pid);
      const ours = () => [...pids, origin.pid];
      await waitForQuietMachine(options.noise_limit, options.quiet_wait * 1000, ours);
      const meter = await foreignCpuMeter(ours);
      const callsBefore = await originCalls(origin);
      const cpuBefore = await treeCpuSeconds(pids);
      const originBefore = await treeCpuSeconds([origin.pid]);
      const result = await h2load(target, options.duration, path.join(dir, `${target.key}-${round}.log`));
      const cpuSeconds = (await treeCpuSeconds(pids)) - cpuBefore;
      const originSeconds = (await treeCpuSeconds([origin.pid])) - originBefore;
      const { foreignCores: foreign } = await meter.stop();
      const answered = (await originCalls(origin)) - callsBefore;
      if (!result.ok) throw new Error(`${target.key}: calls failed:\n${result.text.slice(-1500)}`);
      // every call h2load completed reached the origin (a proxy's own error answer would be a 200 too)
      if (answered < result.done) throw new Error(`${target.key}: h2load completed ${result.done} calls, the origin answered ${answered}`);
      const calls = Math.max(1, result.done);
      runs.push({ target: target.key, rps: result.requestsPerSecond, p99: result.p99, cpu: (cpuSeconds * 1e6) / calls, originCpu: (originSeconds * 1e6) / calls, foreign });
      const last = runs[runs.length - 1];
      log(`round ${round} ${target.key}: ${last.rps.toFixed(0)} calls/s (p99 ${last.p99.toFixed(2)} ms, ${last.cpu.toFixed(1)} µs CPU/call, origin ${last.originCpu.toFixed(1)} µs/call, others ${foreign.toFixed(2)} cores)`);
      await rm(path.join(dir, `${target.key}-${round}.log`), { force: true });
    }
  }

  const med = (key: string, field: 'rps' | 'p99' | 'cpu' | 'originCpu') => median(runs.filter((run) => run.target === key).map((run) => run[field]));
  const rows = targets.map((target) => [target.key, med(target.key, 'rps').toFixed(0), med(target.key, 'p99').toFixed(2), med(target.key, 'cpu').toFixed(1), med(target.key, 'originCpu').toFixed(1)]);
  for (const target of targets.filter((t) => t.key !== 'nginx')) {
    rows.push([`${target.key} / nginx`, ...(['rps', 'p99', 'cpu', 'originCpu'] as const).map((field) => `${(med(target.key, field) / med('nginx', field)).toFixed(2)} ×`)]);
  }
  rows.push(['target (issue 15)', '≥ 1.0 ×', '', '', '']);
  const table = markdownTable(
    [{ title: 'target' }, { title: 'calls/s', align: 'right' }, { title: 'p99 ms', align: 'right' }, { title: 'proxy CPU µs/call', align: 'right' }, { title: 'origin CPU µs/call', align: 'right' }],
    rows,
  );
  const command = `node_modules/.bin/node bench/grpc/run.ts ${process.argv.slice(2).join(' ')}`.trim();
  const report = `# gRPC unary calls: Switchyard vs nginx grpc_pass

\`${command}\` — medians of ${options.rounds} interleaved rounds.
Load: \`h2load -c ${options.connections} -m ${options.streams} -t 1 -D ${options.duration} -H 'content-type: application/grpc' -H 'te: trailers' -d call.bin https://127.0.0.1:PORT${method}\`
(ALPN h2 over TLS; call.bin is one length-prefixed protobuf message, ${requestBody.length} bytes). Every completed call was checked to have reached the origin
(its count of answered calls against h2load's), and one call through each proxy with @grpc/grpc-js got the reply and grpc-status 0.
Origin: bench/grpc/origin.ts, a hand-written h2c responder (no node:http2, no grpc-js; it answers each call with
HEADERS, one DATA frame and grpc-status 0 trailers), the same for both proxies. Each proxy: one worker pinned to CPU ${options.proxy_cpu}
(taskset); h2load and the origin on CPU ${options.load_cpu}.
"proxy CPU µs/call": user + system CPU time of the proxy's processes (/proc/PID/stat) during the run, divided by the calls done.
Each run starts once other processes use < ${options.noise_limit} cores (waiting ${options.quiet_wait} s at most); what they used is listed per round.
"switchyard": an https listener routing to a \`protocol: grpc\` pool, access log off (as nginx's); "switchyard-defaults":
only the pool and the listener written (access log as JSON on stdout, read by the bench as a log collector would).
nginx ${facts.versions.nginx}: \`listen … ssl http2\`, \`grpc_pass grpc://…\` to an upstream with \`keepalive 1024\` (nginx sends one call per
upstream connection; Switchyard multiplexes calls on HTTP/2 sessions), the forwarded headers Switchyard sets (grpc_set_header), access log off.
Same ECDSA P-256 certificate, TLS 1.2/1.3, AEAD suites.

Date: ${new Date().toISOString()}; machine: ${describeMachine(facts)}

${table}

Every round (the spread shows how quiet the machine was):

${runs.map((run) => `- ${run.target}: ${run.rps.toFixed(0)} calls/s, p99 ${run.p99.toFixed(2)} ms, ${run.cpu.toFixed(1)} µs CPU/call, origin ${run.originCpu.toFixed(1)} µs/call (others used ${run.foreign.toFixed(2)} cores)`).join('\n')}
`;
  process.stdout.write(`${report}\n`);
  if (options.results) await writeKeepingSections(path.resolve(root, options.results), report);
} finally {
  await processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}
if (options.profile) await printProfiles(path.resolve(options.profile));

/** The busiest profile of each Switchyard target (its worker's): the top functions by self time. */
async function printProfiles(profileRoot: string): Promise<void> {
  for (const key of knownTargets.filter((name) => name !== 'nginx' && wanted.has(name))) {
    const keyDir = path.join(profileRoot, key);
    const files = (await readdir(keyDir).catch(() => [] as string[])).filter((file) => file.endsWith('.cpuprofile'));
    const summaries = await Promise.all(files.map(async (file) => summarizeProfile(await readCpuProfile(path.join(keyDir, file)), root)));
    summaries.sort((a, b) => b.totalUs - b.idleUs - (a.totalUs - a.idleUs));
    const busiest = summaries[0];
    if (busiest === undefined) continue;
    const busy = busiest.totalUs - busiest.idleUs;
    const share = (us: number): string => `${((100 * us) / busy).toFixed(1)} %`;
    const top = busiest.functions.filter((entry) => entry.name !== '(idle)' && entry.selfUs > 0).sort((a, b) => b.selfUs - a.selfUs).slice(0, 40);
    const project = busiest.functions.filter((entry) => / (src|bench|dist)\//.test(entry.name)).sort((a, b) => b.totalUs - a.totalUs).slice(0, 30);
    process.stdout.write(`\n## ${key}: busy ${(busy / 1e6).toFixed(2)} s\n\n${markdownTable([{ title: 'function (self)' }, { title: 'self', align: 'right' }, { title: 'total', align: 'right' }], top.map((entry) => [entry.name, share(entry.selfUs), share(entry.totalUs)]))}\n\n${markdownTable([{ title: 'project function (total)' }, { title: 'total', align: 'right' }], project.map((entry) => [entry.name, share(entry.totalUs)]))}\n\n${markdownTable([{ title: 'file (self)' }, { title: 'self', align: 'right' }], busiest.files.slice(0, 25).map((file) => [file.file, share(file.selfUs)]))}\n`);
  }
}
