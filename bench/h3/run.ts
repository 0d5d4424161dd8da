// HTTP/3 vs HTTP/2 on the same https listener (`http3: true`): one Switchyard worker pinned to one CPU, the
// origin (bench/http1/origin.ts, 5-byte body) and the load on the other, in interleaved rounds.
//   h2 — h2load (ALPN h2), `clients` connections × up to `streams` concurrent streams, `requests` in all:
//        requests/s and p99
//   h3 — `clients` parallel runs of Debian's ngtcp2 client (gtlsclient -n, one QUIC connection each, as
//        many concurrent streams as the listener allows: http3.max_concurrent_streams = `streams`),
//        `requests` in all: requests/s from the wall time. Debian's h2load is built without HTTP/3 and
//        gtlsclient reports no per-request times, so there is no HTTP/3 p99; each gtlsclient run also
//        pays its process start and QUIC handshake inside the measured time.
// Debian's nginx (1.22) has no HTTP/3, so there is no nginx column.
//
// usage: node_modules/.bin/node bench/h3/run.ts [--rounds 3] [--requests 20000] [--results bench/RESULTS-h3.md]
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcessSet, describeMachine, freePort, machineFacts, markdownTable, median, parseOptions, runBounded, runH2load, usage, waitForPort } from '../common/index.ts';
import { ensureSelfSigned } from '../../src/tls/index.ts';
import { switchyardConfig } from '../http1/switchyard-config.ts';

const spec = {
  rounds: { default: 3, help: 'interleaved rounds (medians over these)' },
  requests: { default: 20000, help: 'requests per run (each protocol)' },
  clients: { default: 4, help: 'connections (h2load -c; parallel gtlsclient runs)' },
  streams: { default: 100, help: 'concurrent streams per connection (h2load -m; http3.max_concurrent_streams)' },
  proxy_cpu: { default: '0', help: 'CPU Switchyard is pinned to' },
  load_cpu: { default: '1', help: 'CPU the clients and the origin are pinned to' },
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
  processes.spawn('switchyard', [process.execPath, path.join(root, 'src', 'cli', 'main.ts'), 'start', '-c', path.join(dir, 'switchyard.yaml')], { cpus: options.proxy_cpu, cwd: dir });
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
  const report = `# HTTP/3 vs HTTP/2 on one https listener

\`node_modules/.bin/node bench/h3/run.ts --rounds ${options.rounds} --requests ${options.requests} --clients ${options.clients} --streams ${options.streams}\` — ${new Date().toISOString().slice(0, 10)}, medians of ${options.rounds} interleaved rounds.
h2: \`h2load -n ${options.requests} -c ${options.clients} -m ${options.streams}\` (ALPN h2); h3: ${options.clients} parallel \`gtlsclient -q --nstreams=${Math.ceil(options.requests / options.clients)}\` (one QUIC connection each; process start and handshake inside the wall time; no per-request times, so no p99).
Switchyard: one worker pinned to CPU ${options.proxy_cpu}, \`http3: { max_concurrent_streams: ${options.streams}, retry: never }\`, access log off; clients and origin (bench/http1/origin.ts, 5-byte body) on CPU ${options.load_cpu}. Debian's nginx 1.22 and h2load have no HTTP/3: no nginx column.

Machine: ${describeMachine(facts)}; load average before the run ${loadBefore}, after ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}

${table}

Every round: ${rounds.map((r) => `h2 ${Math.round(r.h2)} (p99 ${r.h2p99.toFixed(2)} ms) / h3 ${Math.round(r.h3)}`).join('; ')}
`;
  process.stdout.write(report);
  if (options.results) await writeFile(path.resolve(root, options.results), report);
} finally {
  await processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}
