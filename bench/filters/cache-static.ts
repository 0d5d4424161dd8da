// Cache hits and static files, Switchyard against nginx, on the same files: a 10 KB JavaScript file with
// `Cache-Control: public, max-age=600` from an origin in this process (cached: Switchyard's `cache` filter,
// nginx `proxy_cache` in memory-backed keys and a temp-dir store), and the same file from disk (Switchyard's
// `static` route, nginx `root`). One Switchyard worker and one nginx worker, each pinned to CPU 0 in turn;
// wrk pinned to CPU 1 (with this process). Targets are driven in turn for several rounds after a warm-up;
// the median requests/s per target is reported, and Cache-Status / X-Cache is checked to be a hit.
// Run: taskset -c 1 node_modules/.bin/node bench/filters/cache-static.ts [seconds per target, default 5] [rounds, default 3]
import http from 'node:http';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { describeMachine, freePort, machineFacts, parseWrk, processTree, runBounded, treeCpuSeconds, waitForPort } from '../common/index.ts';
import { runSwitchyard, node24, cliEntry } from '../../test/support/run-switchyard.ts';

const seconds = Number(process.argv[2] ?? 5);
const rounds = Number(process.argv[3] ?? 3);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-cache-'));
const files = path.join(dir, 'public');
await mkdir(files);
const file = Buffer.from(`/* bench */\n${'const value = "0123456789abcdef";\n'.repeat(300)}`.slice(0, 10_240));
await writeFile(path.join(files, 'app.js'), file);

const origin = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/javascript', 'content-length': file.length, 'cache-control': 'public, max-age=600' });
  res.end(file);
});
await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
const upstream = `127.0.0.1:${(origin.address() as AddressInfo).port}`;

const edge = await runSwitchyard(
  `log: { access_log: "off" }
pools:
  app: { backends: [ { address: ${upstream} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    routes:
      - { match: { path_prefix: /c/ }, pool: app, middleware: [ { cache: { max_size: 64mb } } ] }
      - { match: { path_prefix: /s/ }, strip_prefix: /s, static: { root: "${files}" } }
`,
  { launcher: ['taskset', '-c', '0', node24, cliEntry], args: ['-w', '1'] },
);

const nginxPort = await freePort();
await mkdir(path.join(dir, 'cache'));
await writeFile(
  path.join(dir, 'nginx.conf'),
  `daemon off;
master_process on;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server_tokens off;
  access_log off;
  keepalive_requests 10000;
  open_file_cache max=1000 inactive=60s;
  proxy_cache_path ${dir}/cache keys_zone=bench:10m max_size=64m;
  upstream origin { server ${upstream}; keepalive 64; }
  server {
    listen 127.0.0.1:${nginxPort};
    location /c/ {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      add_header X-Cache $upstream_cache_status;
    }
    location /s/ { alias ${files}/; }
  }
}
`,
);
const nginx = spawn('taskset', ['-c', '0', 'nginx', '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
await waitForPort('127.0.0.1', nginxPort, 10_000);

// CPU per request: utime + stime of the server's whole process tree (primary + worker, master + worker)
// over each wrk run, divided by the requests wrk completed. Less sensitive to other load on the machine
// than requests/s, which moves with whatever else runs on CPU 0.
const edgeTree = await processTree(edge.process.pid!);
const nginxTree = await processTree(nginx.pid!);
const targets: [string, string, number[]][] = [
  ['Switchyard cache hit', edge.url('web', '/c/app.js'), edgeTree],
  ['nginx proxy_cache hit', `http://127.0.0.1:${nginxPort}/c/app.js`, nginxTree],
  ['Switchyard static file', edge.url('web', '/s/app.js'), edgeTree],
  ['nginx static file', `http://127.0.0.1:${nginxPort}/s/app.js`, nginxTree],
];
const rows: string[][] = [];
const loadStart = loadavg().map((value) => value.toFixed(2)).join(' ');
try {
  for (const [name, url] of targets) {
    // warm: the first request fills the caches; check that the next is a hit
    await fetch(url).then((response) => response.arrayBuffer());
    const response = await fetch(url);
    const hit = response.headers.get('cache-status') ?? response.headers.get('x-cache') ?? '';
    if (name.includes('cache') && !/hit/i.test(hit)) throw new Error(`${name}: expected a hit, got ${hit}`);
    if ((await response.arrayBuffer()).byteLength !== file.length) throw new Error(`${name}: wrong length`);
    await runBounded(['wrk', '-t', '1', '-c', '16', '-d', '1s', url], 20_000);
  }
  const rate: number[][] = targets.map(() => []);
  const cpu: number[][] = targets.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const before = await treeCpuSeconds(targets[i][2]);
      const run = parseWrk((await runBounded(['wrk', '-t', '1', '-c', '16', '-d', `${seconds}s`, targets[i][1]], (seconds + 15) * 1000)).stdout);
      const used = (await treeCpuSeconds(targets[i][2])) - before;
      if (run.badResponses > 0 || run.socketErrors > 0) throw new Error(`${targets[i][0]}: ${run.badResponses} bad responses, ${run.socketErrors} socket errors`);
      rate[i].push(run.requestsPerSecond);
      cpu[i].push((used * 1e6) / run.requests);
    }
  }
  for (let i = 0; i < targets.length; i += 2) {
    const ours = median(rate[i]);
    const theirs = median(rate[i + 1]);
    const ourCpu = median(cpu[i]);
    const theirCpu = median(cpu[i + 1]);
    rows.push([
      targets[i][0].replace('Switchyard ', ''),
      ours.toFixed(0),
      theirs.toFixed(0),
      (ours / theirs).toFixed(2),
      ourCpu.toFixed(1),
      theirCpu.toFixed(1),
      (theirCpu / ourCpu).toFixed(2),
      rate[i].map((v) => v.toFixed(0)).join(' / '),
      rate[i + 1].map((v) => v.toFixed(0)).join(' / '),
    ]);
  }
} finally {
  await edge.stop();
  nginx.kill('SIGTERM');
  origin.close();
  await readFile(path.join(dir, 'nginx-error.log'), 'utf8').then((text) => text.trim() && console.error(text)).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
const facts = await machineFacts({ wrk: [['wrk', '--version'], /wrk (\S+)/], nginx: [['nginx', '-v'], /nginx\/(\S+)/] });
console.log(`${new Date().toISOString()} — ${describeMachine(facts)}; load average at start ${loadStart}, at end ${loadavg().map((value) => value.toFixed(2)).join(' ')}`);
console.log(`${seconds}s per target, ${rounds} rounds, wrk -t1 -c16 (CPU 1), server one worker (CPU 0), 10 KB file`);
console.log('| what | Switchyard req/s | nginx req/s | ratio | Switchyard CPU µs/req | nginx CPU µs/req | CPU efficiency vs nginx | Switchyard rounds | nginx rounds |\n|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
