// rate_limit end to end, through `switchyard start` processes: the bucket on every protocol pair (429 with
// Retry-After and the RateLimit fields, nothing upstream), `store: local` with two workers admitting one
// budget, two instances sharing one Redis budget, and the fail modes when Redis is unreachable or stops.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { cleanupStack } from '../../support/cleanup.ts';
import { refusedPort } from '../../support/origins.ts';
import { lastFreePort } from '../../support/ports.ts';
import { bothEngines, clients, curl, pools, recordingOrigins, twoPools } from './edge-pairs.ts';

const defer = cleanupStack();
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function edge(yaml: string): Promise<RunningSwitchyard> {
  const running = await runSwitchyard(yaml);
  defer(() => running.stop());
  return running;
}

/** One GET on a connection of its own (so SO_REUSEPORT spreads them over the workers); resolves the status. */
function getFresh(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

/** The histogram bound (ms) under which half of rate_limit's decisions fell, from the edge's /metrics. */
async function medianDecisionMs(running: RunningSwitchyard): Promise<number> {
  const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
  const metrics = await (await fetch(`http://127.0.0.1:${running.ready.admin!.port}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const buckets = metrics
    .split('\n')
    .filter((line) => line.startsWith('switchyard_filter_duration_seconds_bucket{') && line.includes('filter="rate_limit"') && line.includes('event="decision"'))
    .map((line) => [Number(/le="([^"]+)"/.exec(line)![1]), Number(line.slice(line.lastIndexOf(' ') + 1))]);
  const total = buckets.at(-1)![1];
  return buckets.find(([, cumulative]) => cumulative >= total / 2)![0] * 1000;
}

const listener = (routes: string): string => `listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
${routes}`;

describe('rate_limit on every protocol pair', { timeout: 60_000 }, () => {
  it('admits the burst with RateLimit fields, then 429 with Retry-After, and the origin sees only the admitted', async () => {
    const origins = await recordingOrigins(defer);
    const limit = '{ rate_limit: { key: "header:x-client", rate: 3/h, burst: 3, zone: pairs } }';
    const running = await edge(`admin: { listen: 127.0.0.1:0 }
${twoPools(origins)}${bothEngines(`      - { match: { path_prefix: /h1/ }, pool: h1, middleware: [ ${limit} ] }
      - { match: { path_prefix: /h2/ }, pool: h2, middleware: [ ${limit} ] }
`)}`);
    for (const { client, flags, listener: name } of clients) {
      for (const pool of pools) {
        const key = `${client}-${pool}`;
        const url = running.url(name, `/${pool}/x`);
        for (let i = 0; i < 3; i++) {
          const admitted = await curl(flags, url, [`x-client: ${key}`]);
          assert.equal(admitted.status, 200, `${key} #${i}`);
          assert.equal(admitted.headers['ratelimit-policy'], '"pairs";q=3;w=3600');
          assert.match(admitted.headers.ratelimit, new RegExp(`^"pairs";r=${2 - i};t=\\d+$`));
        }
        const refused = await curl(flags, url, [`x-client: ${key}`]);
        assert.equal(refused.status, 429, key);
        assert.equal(refused.headers['retry-after'], '1200', key);
        assert.equal(refused.headers.ratelimit, '"pairs";r=0;t=1200');
        assert.equal(refused.body, 'too many requests\n');
        assert.equal(origins.seen.filter((seen) => seen.headers['x-client'] === key).length, 3, `${key}: the 429 never reached the origin`);
      }
    }
    const logged = await running.waitForLine((line) => line.log === 'access' && line.reason === 'rate_limit:limited');
    assert.equal(logged.status, 429);
    const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
    const metrics = await (await fetch(`http://127.0.0.1:${running.ready.admin!.port}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    assert.match(metrics, /switchyard_filter_events_total\{filter="rate_limit",event="allowed"\} 18\n/);
    assert.match(metrics, /switchyard_filter_events_total\{filter="rate_limit",event="limited"\} 6\n/);
    assert.match(metrics, /switchyard_filter_duration_seconds_count\{filter="rate_limit",event="decision"\} 24\n/);
  });
});

describe('rate_limit keyed by a cookie', { timeout: 60_000 }, () => {
  it('one bucket per cookie value on HTTP/1.1 and HTTP/2; a request without the cookie is not limited', async () => {
    const origins = await recordingOrigins(defer);
    const running = await edge(`${twoPools(origins)}${bothEngines(`      - { match: { path_prefix: / }, pool: h2, middleware: [ { rate_limit: { key: "cookie:sid", rate: 1/h, burst: 1 } } ] }
`)}`);
    for (const { client, flags, listener: name } of clients) {
      const url = running.url(name, '/c');
      const sid = `sid=${client}`;
      assert.equal((await curl(flags, url, [`cookie: theme=dark; ${sid}`])).status, 200, client);
      assert.equal((await curl(flags, url, [`cookie: ${sid}; theme=light`])).status, 429, `${client}: same sid, other cookies around it`);
      assert.equal((await curl(flags, url, [`cookie: sid=${client}-other`])).status, 200, client);
      assert.equal((await curl(flags, url)).status, 200, `${client}: no cookie, no key`);
    }
  });
});

describe('store: local with workers: 2', { timeout: 60_000 }, () => {
  it('the instance admits the budget once, not once per worker', async (t) => {
    const origins = await recordingOrigins(defer);
    const running = await edge(`workers: 2
admin: { listen: 127.0.0.1:0 }
${twoPools(origins)}${listener(`      - { match: { path_prefix: / }, pool: h1, middleware: [ { rate_limit: { key: route, rate: 20/h, burst: 20 } } ] }
`)}`);
    const statuses: number[] = [];
    // six clients at a time, each request on its own connection: both workers serve them
    for (let round = 0; round < 10; round++) statuses.push(...(await Promise.all(Array.from({ length: 6 }, () => getFresh(running.url('edge', '/local'))))));
    const admitted = statuses.filter((status) => status === 200).length;
    assert.equal(statuses.filter((status) => status !== 200 && status !== 429).length, 0, statuses.join(' '));
    // never more than the budget; at most (workers - 1) × (batch - 1) = 1 token held back by a lease
    t.diagnostic(`admitted ${admitted} of 60 (budget 20); half the decisions within ${await medianDecisionMs(running)} ms`);
    assert.ok(admitted <= 20 && admitted >= 19, `admitted ${admitted} of 60`);
    // access lines reach stdout in batches (at most 100 ms late): wait for every request's
    await running.waitForLine(() => running.lines.filter((line) => line.log === 'access').length >= statuses.length);
    const pids = new Set(running.lines.filter((line) => line.log === 'access').map((line) => line.pid));
    assert.equal(pids.size, 2, 'both workers served requests');
  });
});

describe('store: redis', { timeout: 60_000 }, () => {
  it('two instances sharing one Redis admit the budget once', async (t) => {
    const origins = await recordingOrigins(defer);
    const zone = `e2e-${randomUUID()}`;
    const yaml = `admin: { listen: 127.0.0.1:0 }
${twoPools(origins)}${listener(`      - { match: { path_prefix: / }, pool: h1, middleware: [ { rate_limit: { key: route, rate: 10/h, burst: 10, store: redis, redis: "${redisUrl}", zone: ${zone} } } ] }
`)}`;
    const [a, b] = await Promise.all([edge(yaml), edge(yaml)]);
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push(...(await Promise.all([getFresh(a.url('edge', '/shared')), getFresh(b.url('edge', '/shared'))])));
    assert.equal(statuses.filter((status) => status === 200).length, 10, statuses.join(' '));
    assert.equal(statuses.filter((status) => status === 429).length, 20);
    assert.equal(origins.seen.length, 10);
    t.diagnostic(`half the decisions within ${await medianDecisionMs(a)} ms (one Redis round trip each)`);
  });

  it('Redis unreachable: allow lets requests through, deny answers 503; one warning, not one per request', async () => {
    const origins = await recordingOrigins(defer);
    const port = await refusedPort();
    const limit = (mode: string) => `{ rate_limit: { key: ip, rate: 1/h, burst: 1, store: redis, redis: "redis://127.0.0.1:${port}", on_store_error: ${mode} } }`;
    const running = await edge(`${twoPools(origins)}${listener(`      - { match: { path_prefix: /open }, pool: h1, middleware: [ ${limit('allow')} ] }
      - { match: { path_prefix: /closed }, pool: h1, middleware: [ ${limit('deny')} ] }
`)}`);
    for (let i = 0; i < 5; i++) {
      assert.equal((await curl(['--http1.1'], running.url('edge', '/open'))).status, 200);
      const denied = await curl(['--http1.1'], running.url('edge', '/closed'));
      assert.equal(denied.status, 503);
      assert.equal(denied.headers['retry-after'], '1');
    }
    assert.equal(origins.seen.filter((seen) => seen.path.startsWith('/closed')).length, 0, 'nothing reached the origin on deny');
    await running.waitForLine((line) => String(line.msg).includes('redis store unreachable'));
    assert.equal(running.lines.filter((line) => String(line.msg).includes('redis store unreachable')).length, 1);
  });

  it('Redis stopped mid-test: deny from then on, admitted again once it is back', async () => {
    const origins = await recordingOrigins(defer);
    // a port for a redis-server of this test (it binds without SO_REUSEPORT: not an anchored one)
    const port = await lastFreePort();
    let redis: ChildProcess | undefined;
    const startRedis = async (): Promise<void> => {
      redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      for await (const chunk of redis.stdout!) if ((out += chunk).includes('Ready to accept connections')) break;
    };
    const stopRedis = async (): Promise<void> => {
      if (redis === undefined || redis.exitCode !== null) return;
      const exited = once(redis, 'exit');
      redis.kill('SIGTERM');
      await exited;
    };
    defer(stopRedis);
    await startRedis();
    const running = await edge(`${twoPools(origins)}${listener(`      - { match: { path_prefix: / }, pool: h1, middleware: [ { rate_limit: { key: ip, rate: 100/s, burst: 100, store: redis, redis: "redis://127.0.0.1:${port}", on_store_error: deny } } ] }
`)}`);
    assert.equal((await curl(['--http1.1'], running.url('edge', '/up'))).status, 200);
    await stopRedis();
    assert.equal((await curl(['--http1.1'], running.url('edge', '/down'))).status, 503);
    await running.waitForLine((line) => String(line.msg).includes('redis store unreachable'));
    await startRedis();
    // ioredis reconnects on its own backoff (at most 2 s between attempts): ask until it has
    let status = 0;
    for (const deadline = Date.now() + 10_000; status !== 200 && Date.now() < deadline; ) {
      status = (await curl(['--http1.1'], running.url('edge', '/back'))).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(status, 200);
    await running.waitForLine((line) => String(line.msg).includes('redis store reachable again'));
    assert.equal(origins.seen.filter((seen) => seen.path === '/down').length, 0);
  });
});
