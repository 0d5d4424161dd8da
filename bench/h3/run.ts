// HTTP/3 vs HTTP/2 on the same https listener (`http3: true`): one Switchyard worker pinned to one CPU, the
// origin (bench/http1/origin.ts, 5-byte body) and the load on the other, in interleaved rounds.
//   h2 — h2load (ALPN h2), `clients` connections × up to `streams` concurrent streams, `requests` in all:
//        requests/s and p99
//   h3 — `clients` parallel runs of Debian's ngtcp2 client (gtlsclient -n, one QUIC connection each, as
//        many concurrent streams as the listener allows: http3.max_concurrent_streams = `streams`),
//        `requests` in all: requests/s from the wall time. Debian's h2load is built without HTTP/3 and
//        gtlsclient reports no per-request times, so there is no HTTP/3 p99; each gtlsclient run also
//        pays its process start and QUIC handshake inside the measured time.
// Then latency, both protocols from the same client (bench/h3/latency.ts): headless Chromium, one browser
// forced to QUIC and one with QUIC off, each page running N fetch loops (N from `in_flight`: 1 for the
// unloaded round trip, 50 for latency under load) for `browser_seconds` and timing every request in the
// page: requests/s, p50 and p99 per protocol, interleaved rounds (h2 first in even rounds, h3 first in odd
// ones). Chromium on `load_cpu` bounds these figures (a browser spends far more CPU per request than the
// listener), so they compare the protocols under one client, not the listener's ceiling.
// Debian's nginx (1.22) has no HTTP/3, so there is no nginx column.
//
// usage: node_modules/.bin/node bench/h3/run.ts [--rounds 3] [--requests 20000] [--browser-rounds 3]
//          [--browser-seconds 5] [--in-flight 50] [--results bench/RESULTS-h3.md]
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openBrowsers, type BrowserRun } from './latency.ts';
import { ProcessSet, describeMachine, foreignCpuMeter, freePort, processTree, treeCpuSeconds, waitForQuietMachine, machineFacts, markdownTable, median, parseOptions, runBounded, runH2load, usage, waitForPort } from '../common/index.ts';
import { ensureSelfSigned } from '../../src/tls/index.ts';
import { switchyardConfig } from '../http1/switchyard-config.ts';

const spec = {
  rounds: { default: 3, help: 'interleaved rounds (medians over these)' },
  requests: { default: 20000, help: 'requests per run (each protocol)' },
  clients: { default: 4, help: 'connections (h2load -c; parallel gtlsclient runs)' },
  streams: { default: 100, help: 'concurrent streams per connection (h2load -m; http3.max_concurrent_streams)' },
  proxy_cpu: { default: '0', help: 'CPU Switchyard is pinned to' },
  load_cpu: { default: '1', help: 'CPU the clients and the origin are pinned to' },
  browser_rounds: { default: 3, help: 'interleaved Chromium latency rounds (0: none)' },
  browser_seconds: { default: 5, help: 'seconds per Chromium run (each protocol)' },
  in_flight: { default: '1,50', help: 'concurrent fetch loops in each Chromium page, a run per value' },
  noise_limit: { default: 0.3, help: 'before each Chromium run, wait until other processes use less than this many cores' },
  quiet_wait: { default: 10, help: 'seconds to wait at most for that quiet moment' },
  results: { default: '', help: 'also write the report to this file, e.g. bench/RESULTS-h3.md' },
  help: { default: false, help: 'this text' },
};
const options = parseOptions(process.argv.slice(2), spec);
if (options.help) {
  process.stdout.write(`usage: node_modules/.bin/node bench/h3/run.ts [options]\n${usage(spec)}\n`);
  process.exit(0);
}
const root = path.resolve(import.meta.dirname, '..', '..');
const log = (text: string): boolean => process.stderr.write(`${text}\n`);

interface Round {
  h2: number;
  h2p99: number;
  h3: number;
}

interface BrowserResult {
  round: number;
  inFlight: number;
  protocol: 'h2' | 'h3';
  run: BrowserRun;
  /** Switchyard's CPU time during the run over its wall time (1 = one core busy). */
  proxyCpu: number;
  /** Cores other processes on the machine (not this benchmark's) used during the run. */
  foreign: number;
}

/** `clients` gtlsclient runs in parallel, `requests / clients` streams each; requests/s over the wall time. */
async function h3Run(port: number): Promise<number> {
  const each = Math.ceil(options.requests / options.clients);
  const started = process.hrtime.bigint();
  const runs = await Promise.all(
    Array.from({ length: options.clients }, () =>
      runBounded(['taskset', '-c', options.load_cpu, 'gtlsclient', '-q', '--exit-on-all-streams-close', '--timeout=30s', `--nstreams=${each}`, '127.0.0.1', String(port), `https://localhost:${port}/`], 120_000),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const failed = runs.find((run) => run.code !== 0);
  if (failed) throw new Error(`gtlsclient failed (${failed.code}): ${(failed.stdout + failed.stderr).slice(-2000)}`);
  return (each * options.clients) / seconds;
}

const processes = new ProcessSet();
const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-h3-'));
try {
  // a shared machine: what else ran is part of the figures
  const loadBefore = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  const facts = await machineFacts({ h2load: [['h2load', '--version'], /nghttp2\/(\S+)/], ngtcp2: [['dpkg-query', '-W', '-f', '${Version}\\n', 'libngtcp2-9'], /(\S+)/], nghttp3: [['dpkg-query', '-W', '-f', '${Version}\\n', 'libnghttp3-3'], /(\S+)/] });
  const certs = await ensureSelfSigned(dir, 'bench', ['localhost', '127.0.0.1']);
  const origin = processes.spawn('origin', [process.execPath, path.join(root, 'bench', 'http1', 'origin.ts'), '--parent', String(process.pid)], { cpus: options.load_cpu });
  const upstream = `127.0.0.1:${Number((await origin.waitForLine((line) => line.startsWith('listening '), 10_000)).split(' ')[1])}`;
  const port = await freePort();
  const config = switchyardConfig({ workers: 1, listenPort: port, upstream, tls: { cert: certs.cert, key: certs.key } }).replace(
    '    protocol: https\n',
    `    protocol: https\n    http3: { max_concurrent_streams: ${options.streams}, retry: never }\n    http2: { max_concurrent_streams: ${options.streams} }\n`,
  );
  await writeFile(path.join(dir, 'switchyard.yaml'), config);
  const switchyard = processes.spawn('switchyard', [process.execPath, path.join(root, 'src', 'cli', 'main.ts'), 'start', '-c', path.join(dir, 'switchyard.yaml')], { cpus: options.proxy_cpu, cwd: dir });
  await waitForPort('127.0.0.1', port, 20_000);
  // warm-up: both paths, so that neither round pays V8's first compilations
  await runH2load(['-n', '2000', '-c', String(options.clients), '-m', '10', `https://127.0.0.1:${port}/`], { cpus: options.load_cpu, timeoutMs: 60_000 });
  await h3Run(port);

  const rounds: Round[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const logFile = path.join(dir, `h2-${round}.log`);
    const h2first = round % 2 === 0;
    const runH2 = () => runH2load(['-n', String(options.requests), '-c', String(options.clients), '-m', String(options.streams), `https://127.0.0.1:${port}/`], { cpus: options.load_cpu, timeoutMs: 120_000, logFile });
    let h2;
    let h3;
    if (h2first) {
      h2 = await runH2();
      h3 = await h3Run(port);
    } else {
      h3 = await h3Run(port);
      h2 = await runH2();
    }
    if (!h2.ok) throw new Error(`h2load failed: ${h2.text.slice(-2000)}`);
    rounds.push({ h2: h2.requestsPerSecond, h2p99: h2.p99, h3 });
    log(`round ${round + 1}: h2 ${Math.round(h2.requestsPerSecond)} req/s (p99 ${h2.p99.toFixed(2)} ms), h3 ${Math.round(h3)} req/s`);
  }

  const levels = options.in_flight.split(',').map(Number);
  if (levels.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--in-flight: expected positive integers, got ${options.in_flight}`);
  const browserResults: BrowserResult[] = [];
  let chromiumVersion = '';
  if (options.browser_rounds > 0) {
    const browsers = await openBrowsers({ port, certFile: certs.cert, cpus: options.load_cpu, dir });
    chromiumVersion = browsers.version;
    try {
      // warm-up: each page's connection open and both paths compiled before anything is timed
      await browsers.run('h2', 1, Math.max(...levels));
      await browsers.run('h3', 1, Math.max(...levels));
      for (let round = 0; round < options.browser_rounds; round++) {
        const order = round % 2 === 0 ? (['h2', 'h3'] as const) : (['h3', 'h2'] as const);
        for (const inFlight of levels) {
          for (const protocol of order) {
            const pids = await processTree(switchyard.pid);
            // ours: every descendant of this process (Switchyard, the origin, both browsers), not this process,
            // which foreignCpuMeter counts itself
            const ours = (await processTree(process.pid)).slice(1);
            await waitForQuietMachine(options.noise_limit, options.quiet_wait * 1000, () => ours);
            const meter = await foreignCpuMeter(() => ours);
            const cpuBefore = await treeCpuSeconds(pids);
            const started = process.hrtime.bigint();
            const run = await browsers.run(protocol, options.browser_seconds, inFlight);
            const proxyCpu = ((await treeCpuSeconds(pids)) - cpuBefore) / (Number(process.hrtime.bigint() - started) / 1e9);
            const { foreignCores: foreign } = await meter.stop();
            browserResults.push({ round, inFlight, protocol, run, proxyCpu, foreign });
            log(`chromium round ${round + 1}, ${inFlight} in flight: ${protocol} ${Math.round(run.requestsPerSecond)} req/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, Switchyard CPU ${(proxyCpu * 100).toFixed(0)} %, other processes ${foreign.toFixed(2)} cores`);
          }
        }
      }
    } finally {
      await browsers.close();
    }
  }

  const h2 = median(rounds.map((r) => r.h2));
  const h3 = median(rounds.map((r) => r.h3));
  const h2p99 = median(rounds.map((r) => r.h2p99));
  const table = markdownTable(
    [
      { title: 'protocol', align: 'left' },
      { title: 'req/s', align: 'right' },
      { title: 'p99 ms', align: 'right' },
    ],
    [
      ['h2 (h2load)', String(Math.round(h2)), h2p99.toFixed(2)],
      ['h3 (gtlsclient)', String(Math.round(h3)), 'n/a'],
      ['h3 / h2', `${(h3 / h2).toFixed(2)} ×`, ''],
    ],
  );
  const browserMedian = (inFlight: number, protocol: 'h2' | 'h3', key: 'requestsPerSecond' | 'p50' | 'p99' | 'proxyCpu' | 'foreign'): number =>
    median(browserResults.filter((r) => r.inFlight === inFlight && r.protocol === protocol).map((r) => (key === 'proxyCpu' ? (r.proxyCpu / r.run.requestsPerSecond) * 1e6 : key === 'foreign' ? r.foreign : r.run[key])));
  const browserTable = markdownTable(
    [
      { title: 'in flight', align: 'right' },
      { title: 'protocol (Chromium)', align: 'left' },
      { title: 'req/s', align: 'right' },
      { title: 'p50 ms', align: 'right' },
      { title: 'p99 ms', align: 'right' },
      { title: 'Switchyard CPU µs/req', align: 'right' },
      { title: 'other load (cores)', align: 'right' },
    ],
    [
      ...levels.flatMap((n) => [
        ...(['h2', 'h3'] as const).map((p) => [String(n), p, String(Math.round(browserMedian(n, p, 'requestsPerSecond'))), browserMedian(n, p, 'p50').toFixed(2), browserMedian(n, p, 'p99').toFixed(2), browserMedian(n, p, 'proxyCpu').toFixed(0), browserMedian(n, p, 'foreign').toFixed(2)]),
        [String(n), 'h3 / h2', ...(['requestsPerSecond', 'p50', 'p99', 'proxyCpu'] as const).map((key) => `${(browserMedian(n, 'h3', key) / browserMedian(n, 'h2', key)).toFixed(2)} ×`)],
      ]),
    ],
  );
  const browserSection =
    browserResults.length === 0
      ? ''
      : `
## Latency: both protocols from one client (headless Chromium)

Chromium ${chromiumVersion} on CPU ${options.load_cpu} (with the origin): one browser forced to QUIC (\`--origin-to-force-quic-on\`), one with \`--disable-quic\`; each page runs N concurrent \`fetch('/')\` loops (N = ${levels.join(', then ')}) for ${options.browser_seconds} s, timing every request (call to end of body) with \`performance.now()\` in the page; every run's resource entries name its protocol (\`nextHopProtocol\`). Medians of ${options.browser_rounds} interleaved rounds (h2 first in even rounds, h3 first in odd ones); each run starts once other processes use < ${options.noise_limit} cores (waiting ${options.quiet_wait} s at most), and what they used during the run is the last column. The browser bounds these figures, not the listener (Chromium's processes saturate CPU ${options.load_cpu}; Switchyard's own CPU time per request is listed): they compare the two protocols under the same client, with 1 in flight the unloaded round trip, with more the latency while the client is saturated.

${browserTable}

Every run, in order: ${browserResults.map((r) => `${r.inFlight}×${r.protocol} ${Math.round(r.run.requestsPerSecond)} req/s, p50 ${r.run.p50.toFixed(2)}, p99 ${r.run.p99.toFixed(2)} ms (${r.run.requests} requests, other load ${r.foreign.toFixed(2)} cores)`).join('; ')}
`;
  const report = `# HTTP/3 vs HTTP/2 on one https listener

\`node_modules/.bin/node bench/h3/run.ts --rounds ${options.rounds} --requests ${options.requests} --clients ${options.clients} --streams ${options.streams} --browser-rounds ${options.browser_rounds} --browser-seconds ${options.browser_seconds} --in-flight ${options.in_flight}\` — ${new Date().toISOString().slice(0, 10)}.

Switchyard: one worker pinned to CPU ${options.proxy_cpu}, \`http3: { max_concurrent_streams: ${options.streams}, retry: never }\`, access log off; clients and origin (bench/http1/origin.ts, 5-byte body) on CPU ${options.load_cpu}. Debian's nginx 1.22 and h2load have no HTTP/3: no nginx column.

Machine: ${describeMachine(facts)}; load average before the run ${loadBefore}, after ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}

## Throughput: h2load and gtlsclient

Medians of ${options.rounds} interleaved rounds.
h2: \`h2load -n ${options.requests} -c ${options.clients} -m ${options.streams}\` (ALPN h2); h3: ${options.clients} parallel \`gtlsclient -q --nstreams=${Math.ceil(options.requests / options.clients)}\` (one QUIC connection each; process start and handshake inside the wall time; no per-request times, so no p99 here: see the Chromium table below).

${table}

Every round: ${rounds.map((r) => `h2 ${Math.round(r.h2)} (p99 ${r.h2p99.toFixed(2)} ms) / h3 ${Math.round(r.h3)}`).join('; ')}
${browserSection}`;
  process.stdout.write(report);
  if (options.results) await writeFile(path.resolve(root, options.results), report);
} finally {
  await processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}
