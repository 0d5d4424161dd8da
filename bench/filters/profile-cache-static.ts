// Profiles one Switchyard worker (V8 --cpu-prof) serving either the cache-hit or the static-file target
// of cache-static.ts under wrk, and prints the hottest functions with µs per request.
// Run: node_modules/.bin/node bench/filters/profile-cache-static.ts [cache|static] [seconds, default 5]
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatFixed, markdownTable, readCpuProfile, runBounded, parseWrk, summarizeProfile } from '../common/index.ts';
import { runSwitchyard, node24, cliEntry, projectRoot } from '../../test/support/run-switchyard.ts';

const which = process.argv[2] === 'cache' ? 'cache' : 'static';
const seconds = Number(process.argv[3] ?? 5);
const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-profile-'));
const files = path.join(dir, 'public');
const profiles = path.join(dir, 'profiles');
await mkdir(files);
await mkdir(profiles);
const file = Buffer.from(`/* bench */\n${'const value = "0123456789abcdef";\n'.repeat(300)}`.slice(0, 10_240));
await writeFile(path.join(files, 'app.js'), file);
const origin = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/javascript', 'content-length': file.length, 'cache-control': 'public, max-age=600' });
  res.end(file);
});
await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
const edge = await runSwitchyard(
  `log: { access_log: "off" }
pools:
  app: { backends: [ { address: 127.0.0.1:${(origin.address() as AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    routes:
      - { match: { path_prefix: /c/ }, pool: app, middleware: [ { cache: { max_size: 64mb } } ] }
      - { match: { path_prefix: /s/ }, strip_prefix: /s, static: { root: "${files}" } }
`,
  { launcher: ['taskset', '-c', '0', node24, cliEntry], args: ['-w', '1'], env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profiles} --cpu-prof-interval=200` } },
);
const url = edge.url('web', which === 'cache' ? '/c/app.js' : '/s/app.js');
let requests = 0;
try {
  await fetch(url).then((response) => response.arrayBuffer());
  requests = parseWrk((await runBounded(['taskset', '-c', '1', 'wrk', '-t', '1', '-c', '16', '-d', `${seconds}s`, url], (seconds + 15) * 1000)).stdout).requests;
} finally {
  await edge.stop();
  origin.close();
}
const summaries = await Promise.all((await readdir(profiles)).map(async (name) => summarizeProfile(await readCpuProfile(path.join(profiles, name)), projectRoot)));
summaries.sort((a, b) => b.totalUs - b.idleUs - (a.totalUs - a.idleUs));
const summary = summaries[0];
const busy = summary.totalUs - summary.idleUs;
const perRequest = (us: number): string => formatFixed(us / requests, 2);
console.log(`${which}: ${requests} requests in ${seconds}s; worker busy ${formatFixed(busy / 1e6, 2)} s → ${perRequest(busy)} µs/req (profiler on)`);
console.log(
  markdownTable(
    [{ title: 'function (self)' }, { title: 'µs/req', align: 'right' }, { title: 'total µs/req', align: 'right' }],
    summary.functions
      .filter((entry) => entry.name !== '(idle)' && entry.selfUs > 0)
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, Number(process.env.TOP ?? 30))
      .map((entry) => [entry.name, perRequest(entry.selfUs), perRequest(entry.totalUs)]),
  ),
);
await rm(dir, { recursive: true, force: true });
