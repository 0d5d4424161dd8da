// Paired A/B runs: two Switchyards (two source trees, or one tree with two runtime configs or node flags) on
// the same CPU at the same time, each under its own identical load. What the machine does to one it does to
// the other, so the ratio of their throughputs shows a change of a few per cent that separate runs, moving
// by 10–40 % from one to the next on the development hosts, cannot. Run it once with A = B first: the
// median A/B of identical twins is the harness's own bias (~0.98–1.00 here).
//
// usage: node_modules/.bin/node bench/paired.ts --a ../other-checkout [--protocol h2|http] [--rounds 5]
//        node_modules/.bin/node bench/paired.ts --a_runtime '{ allocator: auto, semi_space: 16mb }'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcessSet, freePort, markdownTable, median, parseOptions, runH2load, runWrk, usage, waitForPort } from './common/index.ts';
import { switchyardConfig } from './http1/switchyard-config.ts';
import { ensureSelfSigned } from '../src/tls/index.ts';

const spec = {
  a: { default: '', help: 'source tree of A (a checkout with node_modules and a built dist/); default: this one' },
  b: { default: '', help: 'source tree of B; default: this one' },
  a_runtime: { default: '', help: "A's `runtime:` section as YAML flow text, e.g. '{ allocator: system }'" },
  b_runtime: { default: '', help: "B's `runtime:` section" },
  a_flags: { default: '', help: 'node flags for A (passed on to its workers), space-separated' },
  b_flags: { default: '', help: 'node flags for B' },
  protocol: { default: 'h2', help: 'h2: https listener under h2load -c C -m S; http: http listener under wrk -c C, access log to a file' },
  rounds: { default: 5, help: 'rounds (the median of the per-round ratios is reported)' },
  duration: { default: 6, help: 'seconds per round' },
  warmup: { default: 5, help: 'seconds of unrecorded load on both before round 1' },
  connections: { default: 50, help: 'client connections per side' },
  streams: { default: 10, help: 'concurrent streams per connection (h2)' },
  proxy_cpu: { default: '0', help: 'the CPU both proxies share' },
  load_cpu: { default: '1', help: 'CPU of the load generators and the origin' },
  help: { default: false, help: 'this text' },
};
const options = parseOptions(process.argv.slice(2), spec);
if (options.help || (options.protocol !== 'h2' && options.protocol !== 'http')) {
  process.stdout.write(`usage: node_modules/.bin/node bench/paired.ts [options]\n${usage(spec)}\n`);
  process.exit(options.help ? 0 : 2);
}
const root = path.resolve(import.meta.dirname, '..');
const h2 = options.protocol === 'h2';
const log = (text: string): boolean => process.stderr.write(`${text}\n`);

interface Side {
  key: 'A' | 'B';
  tree: string;
  port: number;
}

interface Measure {
  rps: number;
  p99: number;
}

const processes = new ProcessSet();
const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-paired-'));
try {
  const origin = processes.spawn('origin', [process.execPath, path.join(root, 'bench', 'http1', 'origin.ts'), '--parent', String(process.pid)], { cpus: options.load_cpu });
  const upstream = `127.0.0.1:${Number((await origin.waitForLine((line) => line.startsWith('listening '), 10_000)).split(' ')[1])}`;
  const certs = h2 ? await ensureSelfSigned(dir, 'bench', ['localhost', '127.0.0.1']) : undefined;

  const sides: Side[] = [];
  for (const [key, tree, runtime, flags] of [
    ['A', options.a, options.a_runtime, options.a_flags],
    ['B', options.b, options.b_runtime, options.b_flags],
  ] as const) {
    const sideDir = path.join(dir, key);
    await mkdir(sideDir);
    const port = await freePort();
    const config = switchyardConfig({
      workers: 1,
      listenPort: port,
      upstream,
      runtime: runtime || undefined,
      accessLog: h2 ? undefined : path.join(sideDir, 'access.log'),
      tls: certs ? { cert: certs.cert, key: certs.key } : undefined,
    });
    await writeFile(path.join(sideDir, 'switchyard.yaml'), config);
    const treeRoot = path.resolve(tree || root);
    const argv = [process.execPath, ...flags.split(' ').filter(Boolean), path.join(treeRoot, 'src', 'cli', 'main.ts'), 'start', '-c', path.join(sideDir, 'switchyard.yaml')];
    processes.spawn(`switchyard ${key}`, argv, { cpus: options.proxy_cpu, cwd: sideDir });
    await waitForPort('127.0.0.1', port, 20_000);
    sides.push({ key, tree: treeRoot, port });
  }

  const load = async (side: Side, seconds: number, round: number): Promise<Measure> => {
    if (h2) {
      const args = ['-c', String(options.connections), '-m', String(options.streams), '-t', '1', '-D', String(seconds), `https://127.0.0.1:${side.port}/`];
      const result = await runH2load(args, { cpus: options.load_cpu, timeoutMs: (seconds + 60) * 1000, logFile: round > 0 ? path.join(dir, `${side.key}-${round}.log`) : undefined });
      if (!result.ok) throw new Error(`${side.key}: h2load failed:\n${result.text.slice(-1500)}`);
      return { rps: result.requestsPerSecond, p99: result.p99 };
    }
    const result = await runWrk({ url: `http://127.0.0.1:${side.port}/`, connections: options.connections, durationS: seconds, cpus: options.load_cpu });
    if (result.socketErrors + result.badResponses > 0) throw new Error(`${side.key}: wrk saw ${result.socketErrors} socket errors and ${result.badResponses} bad responses`);
    return { rps: result.requestsPerSecond, p99: result.latencyMs.p99 };
  };
  // both loads at once, always: the pair shares the proxy CPU for the whole run
  const both = (seconds: number, round: number): Promise<Measure[]> => Promise.all(sides.map((side) => load(side, seconds, round)));

  await both(options.warmup, 0);
  const rounds: { a: Measure; b: Measure; ratio: number }[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const [a, b] = await both(options.duration, round);
    rounds.push({ a, b, ratio: a.rps / b.rps });
    log(`round ${round}: A ${a.rps.toFixed(0)} req/s (p99 ${a.p99.toFixed(1)} ms), B ${b.rps.toFixed(0)} req/s (p99 ${b.p99.toFixed(1)} ms), A/B ${(a.rps / b.rps).toFixed(3)}`);
  }

  const describe = (side: Side, runtime: string, flags: string) => `${side.tree}${runtime ? `, runtime ${runtime}` : ''}${flags ? `, node ${flags}` : ''}`;
  const table = markdownTable(
    [{ title: 'round' }, { title: 'A req/s', align: 'right' }, { title: 'B req/s', align: 'right' }, { title: 'A/B', align: 'right' }, { title: 'A p99 ms', align: 'right' }, { title: 'B p99 ms', align: 'right' }],
    [
      ...rounds.map((r, i) => [String(i + 1), r.a.rps.toFixed(0), r.b.rps.toFixed(0), r.ratio.toFixed(3), r.a.p99.toFixed(1), r.b.p99.toFixed(1)]),
      ['median', median(rounds.map((r) => r.a.rps)).toFixed(0), median(rounds.map((r) => r.b.rps)).toFixed(0), median(rounds.map((r) => r.ratio)).toFixed(3), median(rounds.map((r) => r.a.p99)).toFixed(1), median(rounds.map((r) => r.b.p99)).toFixed(1)],
    ],
  );
  const loadText = h2 ? `h2load -c ${options.connections} -m ${options.streams} -t 1 -D ${options.duration} (TLS, ALPN h2)` : `wrk -t1 -c${options.connections} -d${options.duration}s (access log to a file)`;
  process.stdout.write(`# Paired A/B (${options.protocol})

\`node_modules/.bin/node bench/paired.ts ${process.argv.slice(2).join(' ')}\`
- A: ${describe(sides[0], options.a_runtime, options.a_flags)}
- B: ${describe(sides[1], options.b_runtime, options.b_flags)}
- both on CPU ${options.proxy_cpu} at once, one worker each; per side ${loadText}, on CPU ${options.load_cpu} with the origin (bench/http1/origin.ts); ${options.warmup} s warm-up

${table}
`);
} finally {
  await processes.stopAll();
  await rm(dir, { recursive: true, force: true });
}
