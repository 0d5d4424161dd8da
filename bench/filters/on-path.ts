// CPU cost of the filters on the proxy path (rate_limit local and redis, cors, jwt, waf, forward_auth, compress on a
// 10 KB JSON body): one switchyard (one worker, pinned to CPU 0, access log
// off) proxying HTTP/1.1 to an origin in this process; wrk (pinned with this process to CPU 1) drives each
// route in turn; the figure is switchyard's CPU time (primary + worker, from /proc) per request, and its
// difference to the route without middleware.
// Routes are driven in turn, all warmed first, for several rounds; the median per route is reported.
// Run: taskset -c 1 node_modules/.bin/node bench/filters/on-path.ts [seconds per route, default 3] [rounds, default 3]
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { parseWrk, processTree, runBounded, treeCpuSeconds } from '../common/index.ts';
import { runSwitchyard, node24, cliEntry } from '../../test/support/run-switchyard.ts';

const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 3);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const body = JSON.stringify({ id: 42, items: Array.from({ length: 8 }, (_, i) => ({ sku: `sku-${i}`, qty: i })) });
// the compress rows: a 10 KB JSON answer (and its uncompressed baseline on a route without middleware)
const big = JSON.stringify({ id: 42, items: Array.from({ length: 160 }, (_, i) => ({ sku: `sku-${i}`, qty: i, name: `item number ${i}` })) }).slice(0, 10 * 1024);
const origin = http.createServer((req, res) => {
  req.resume();
  const answer = req.url?.includes('/big') ? big : body;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
  res.end(answer);
});
const auth = http.createServer((req, res) => {
  res.writeHead(req.headers.authorization === undefined ? 401 : 200, { 'x-user': 'ada', 'content-length': 0 });
  res.end();
});
await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
await new Promise<void>((resolve) => auth.listen(0, '127.0.0.1', resolve));
const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-bench-filters-'));
const pair = await generateKeyPair('ES256', { extractable: true });
await writeFile(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k', alg: 'ES256' }] }));
const token = await new SignJWT({ sub: 'u-42', aud: 'api' }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setExpirationTime('1h').sign(pair.privateKey);
const keys = path.join(dir, 'jwks.json');

/** [label, middleware (YAML flow), path after the route's prefix] */
const routes: [string, string, string][] = [
  ['none', '', 'orders?id=42'],
  ['rate_limit (store: local)', '[ { rate_limit: { key: ip, rate: 1000000/s, burst: 1000000 } } ]', 'orders?id=42'],
  ['rate_limit (store: redis, 127.0.0.1:6379)', '[ { rate_limit: { key: ip, rate: 1000000/s, burst: 1000000, store: redis, redis: "redis://127.0.0.1:6379" } } ]', 'orders?id=42'],
  ['cors (an allowed Origin)', '[ { cors: { origins: ["https://app.example.test"] } } ]', 'orders?id=42'],
  ['jwt (ES256, repeated token: cache)', `[ { jwt: { keys_file: "${keys}", audience: api, forward_claims: { sub: x-user-id } } } ]`, 'orders?id=42'],
  ['jwt (ES256, cache off)', `[ { jwt: { keys_file: "${keys}", audience: api, cache_size: 0, forward_claims: { sub: x-user-id } } } ]`, 'orders?id=42'],
  ['waf (all built-in sets)', '[ { waf: {} } ]', 'orders?id=42'],
  ['forward_auth (auth service on loopback)', `[ { forward_auth: { url: "http://127.0.0.1:${(auth.address() as AddressInfo).port}/auth", copy_headers: [x-user] } } ]`, 'orders?id=42'],
  ['none, 10 KB JSON answer', '', 'big'],
  ['compress (gzip, 10 KB JSON answer)', '[ { compress: { encodings: [gzip] } } ]', 'big'],
];
/** The row each row's filter cost is taken against: the 10 KB rows against the 10 KB baseline. */
const baseline = (i: number): number => (routes[i][2] === 'big' ? routes.findIndex(([, middleware, rest]) => middleware === '' && rest === 'big') : 0);
const yaml = `log: { access_log: "off" }
pools:
  app: { backends: [ { address: 127.0.0.1:${(origin.address() as AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    routes:
${routes.map(([, middleware], i) => `      - { match: { path_prefix: /r${i}/ }, pool: app${middleware ? `, middleware: ${middleware}` : ''} }`).join('\n')}
`;
const edge = await runSwitchyard(yaml, { launcher: ['taskset', '-c', '0', node24, cliEntry] });
const rows: string[][] = [];
try {
  const tree = await processTree(edge.process.pid!);
  const wrk = (i: number, duration: number) =>
    runBounded(['wrk', '-t', '1', '-c', '16', '-d', `${duration}s`, '-H', `authorization: Bearer ${token}`, '-H', 'origin: https://app.example.test', '-H', 'accept-encoding: gzip', edge.url('web', `/r${i}/${routes[i][2]}`)], (duration + 15) * 1000);
  for (let i = 0; i < routes.length; i++) await wrk(i, 1);
  const cost: number[][] = routes.map(() => []);
  const rate: number[][] = routes.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < routes.length; i++) {
      const before = await treeCpuSeconds(tree);
      const run = parseWrk((await wrk(i, seconds)).stdout);
      const cpu = (await treeCpuSeconds(tree)) - before;
      if (run.badResponses > 0 || run.socketErrors > 0) throw new Error(`${routes[i][0]}: ${run.badResponses} bad responses, ${run.socketErrors} socket errors`);
      cost[i].push((cpu * 1e6) / run.requests);
      rate[i].push(run.requestsPerSecond);
    }
  }
  for (let i = 0; i < routes.length; i++) {
    const perRequest = median(cost[i]);
    const base = median(cost[baseline(i)]);
    rows.push([routes[i][0], median(rate[i]).toFixed(0), perRequest.toFixed(1), baseline(i) === i ? '—' : `${perRequest - base >= 0 ? '+' : ''}${(perRequest - base).toFixed(1)}`]);
  }
} finally {
  await edge.stop();
  origin.close();
  auth.close();
  await rm(dir, { recursive: true, force: true });
}
console.log('| route middleware | requests/s | switchyard CPU µs per request | filter cost µs |\n|---|---|---|---|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
