// /metrics of a real `switchyard start` (one worker): scrape, drive DNS, HTTP, HTTPS, TCP and cached traffic that
// exercises each component's counters, scrape again, and check that each named series moved as it should.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import https from 'node:https';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { refusedPort, startEchoOrigin, startTcpEchoOrigin } from '../../support/origins.ts';
import { startTinyDns } from '../../support/tiny-dns.ts';
import { startH2Origin } from '../h2/h2-origin.ts';

const run = promisify(execFile);
const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function scrape(running: RunningSwitchyard, token: string): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${running.ready.admin!.port}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  const series = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    series.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return series;
}

/** Sends one line through the L4 listener and waits for its echo and the close. */
function tunnel(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('ping\n'));
    socket.once('data', () => socket.end());
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

/** One HTTPS request on a new connection; the agent keeps the TLS session, so a second one resumes it. */
function httpsGet(port: number, agent: https.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = https.get({ host: '127.0.0.1', port, path: '/', servername: 'localhost', rejectUnauthorized: false, agent, headers: { connection: 'close' } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
  });
}

/** A connection the listener's access filter closes at accept: resolves when the peer closes it. */
function refused(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

test('/metrics series move with DNS, HTTP, TLS, L4 and health traffic', async () => {
  const web = await startEchoOrigin({ name: 'a' });
  cleanups.push(() => web.close());
  const echo = await startTcpEchoOrigin();
  cleanups.push(() => echo.close());
  const upstreamDns = await startTinyDns({ zone: 'elsewhere.test', records: [{ name: 'www.elsewhere.test', type: 'A', ttl: 300, data: '198.51.100.7' }] });
  cleanups.push(() => upstreamDns.close());
  const h2Origin = await startH2Origin('h2');
  cleanups.push(() => h2Origin.close());
  const dead = await refusedPort();
  const running = await runSwitchyard(
    `
admin: { listen: 127.0.0.1:0 }
dns:
  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records:
        - { name: www, type: A, value: 192.0.2.1 }
  resolver:
    allow: [127.0.0.0/8]
    forward: [127.0.0.1:${upstreamDns.port}]
    cache: { max_entries: 100 }
pools:
  app:
    backends: [ { address: ${web.address} }, { address: 127.0.0.1:${dead} } ]
    passive: { consecutive_failures: 1, eject_for: 1m }
    retries: { attempts: 2, on: [connect_error] }
  checked:
    backends: [ { address: ${web.address} }, { address: 127.0.0.1:${dead} } ]
    health: { type: tcp, interval: 100ms, timeout: 300ms, rise: 1, fall: 1 }
  echo:
    backends: [ { address: ${echo.address} }, { address: 127.0.0.1:${dead} } ]
  solo:
    backends: [ { address: ${web.address} } ]
  h2app:
    protocol: h2c
    backends: [ { address: ${h2Origin.address} } ]
listeners:
  - name: h2front
    protocol: h2c
    listen: 127.0.0.1:0
    routes:
      - { match: { path_prefix: /h1 }, pool: solo }
      - { match: { path_prefix: / }, pool: h2app }
  - name: cached
    listen: 127.0.0.1:0
    routes:
      - match: { path_prefix: / }
        pool: solo
        middleware: [ { cache: { max_size: 1mb } } ]
  - name: web
    listen: 127.0.0.1:0
    routes:
      - match: { path_prefix: / }
        pool: app
  - name: secure
    protocol: https
    listen: 127.0.0.1:0
    tls: { self_signed: true }
    routes:
      - match: { path_prefix: / }
        pool: app
  - name: closed
    listen: 127.0.0.1:0
    access: { deny: [127.0.0.0/8] }
    routes:
      - match: { path_prefix: / }
        pool: app
  - name: tunnel
    protocol: tcp
    listen: 127.0.0.1:0
    pool: echo
`,
    { args: ['--workers', '1'] },
  );
  cleanups.push(() => running.stop());
  const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
  // The checker finds the dead backend of `checked` down on its first probe (fall: 1).
  await running.waitForLine((line) => line.msg === 'backend down' && line.pool === 'checked');
  const before = await scrape(running, token);
  const delta = (name: string): number => (after.get(name) ?? 0) - (before.get(name) ?? 0);

  const udp = running.ready.dns!.find((entry) => entry.transport === 'udp')!;
  const tcp = running.ready.dns!.find((entry) => entry.transport === 'tcp')!;
  const dig = (...args: string[]) => run('dig', ['+tries=1', '+time=2', ...args]);
  await dig('-p', String(udp.port), '@127.0.0.1', 'www.example.test', 'A');
  await dig('-p', String(udp.port), '@127.0.0.1', 'nothere.example.test', 'AAAA');
  await dig('-p', String(tcp.port), '@127.0.0.1', '+tcp', 'www.example.test', 'MX');
  await dig('-p', String(udp.port), '@127.0.0.1', 'www.elsewhere.test', 'A'); // cache miss, upstream query
  await dig('-p', String(udp.port), '@127.0.0.1', 'www.elsewhere.test', 'A'); // cache hit

  for (let index = 0; index < 4; index++) {
    const response = await fetch(running.url('web', '/'), { headers: { connection: 'close' } });
    assert.equal(response.status, 200);
    await response.text();
  }
  const agent = new https.Agent({ keepAlive: false });
  assert.equal(await httpsGet(running.ready.listeners.secure.port, agent), 200);
  assert.equal(await httpsGet(running.ready.listeners.secure.port, agent), 200);
  agent.destroy();
  await refused(running.ready.listeners.closed.port);
  await tunnel(running.ready.listeners.tunnel.port);
  await tunnel(running.ready.listeners.tunnel.port);
  // HTTP/2 to an HTTP/1.1 pool (the L7 bridge) and to an h2c pool (src/h2's own proxying): counted alike
  for (const target of ['/h1/x', '/up/y']) await run('curl', ['-sS', '-o', '/dev/null', '--max-time', '10', '--http2-prior-knowledge', running.url('h2front', target)], { timeout: 15_000 });
  // a cacheable answer: stored on the first request (a miss), served from the cache on the second (a hit)
  for (let index = 0; index < 2; index++) {
    const response = await fetch(running.url('cached', '/c?header=cache-control:max-age%3D60'));
    assert.equal(response.status, 200);
    await response.text();
  }
  const after = await scrape(running, token);

  assert.equal(delta('switchyard_dns_queries_total{transport="udp",type="A"}'), 3);
  assert.equal(delta('switchyard_dns_queries_total{transport="udp",type="AAAA"}'), 1);
  assert.equal(delta('switchyard_dns_queries_total{transport="tcp",type="MX"}'), 1);
  assert.equal(delta('switchyard_dns_responses_total{transport="udp",rcode="NOERROR"}'), 3);
  assert.equal(delta('switchyard_dns_responses_total{transport="udp",rcode="NXDOMAIN"}'), 1);
  assert.equal(delta('switchyard_dns_resolver_cache_lookups_total{result="hit"}'), 1);
  assert.equal(delta('switchyard_dns_resolver_cache_lookups_total{result="miss"}'), 1);
  assert.equal(delta('switchyard_dns_resolver_upstream_queries_total'), 1);
  assert.equal(delta('switchyard_dns_resolver_upstream_latency_seconds_count'), 1);
  assert.equal(delta('switchyard_dns_resolver_upstream_latency_seconds_bucket{le="+Inf"}'), 1);
  assert.ok(delta('switchyard_dns_resolver_upstream_latency_seconds_sum') > 0);
  assert.equal(after.get('switchyard_dns_resolver_cache_entries'), 1);
  assert.equal(after.get('switchyard_dns_resolver_cache_hit_ratio'), 0.5);
  assert.ok(after.has('switchyard_dns_rate_limited_responses_total'));

  assert.equal(delta('switchyard_http_requests_total{listener="web",route="#0",pool="app",code="2xx"}'), 4);
  // Round robin hands the dead backend one of the first two requests: it fails, is retried and ejected.
  assert.equal(delta('switchyard_http_retries_total{pool="app"}'), 1);
  assert.equal(delta('switchyard_pool_ejections_total{pool="app",backend="127.0.0.1:' + dead + '"}'), 1);
  assert.ok(after.has('switchyard_http_retry_budget_exhausted_total{pool="app"}'));
  assert.equal(after.get(`switchyard_health_transitions_total{pool="checked",backend="127.0.0.1:${dead}",direction="down"}`), 1);
  assert.equal(after.get(`switchyard_health_transitions_total{pool="checked",backend="127.0.0.1:${dead}",direction="up"}`), 0);

  assert.equal(delta('switchyard_tls_handshakes_total{listener="secure",version="TLSv1.3"}'), 2);
  assert.equal(delta('switchyard_tls_resumptions_total{listener="secure",version="TLSv1.3"}'), 1, 'the second connection resumed the first one\'s session');
  assert.equal(delta('switchyard_listener_refused_connections_total{listener="closed",reason="access"}'), 1);

  assert.equal(delta('switchyard_l4_connections_total{listener="tunnel",pool="echo"}'), 2);
  assert.ok(delta('switchyard_l4_connect_failures_total{listener="tunnel",pool="echo"}') >= 1, 'round robin tries the dead backend for one of two connections');
  assert.equal(delta('switchyard_l4_received_bytes_total{listener="tunnel",pool="echo"}'), 10);
  assert.equal(delta('switchyard_l4_sent_bytes_total{listener="tunnel",pool="echo"}'), 10);

  assert.equal(delta('switchyard_http_requests_total{listener="h2front",route="#0",pool="solo",code="2xx"}'), 1);
  assert.equal(delta('switchyard_http_requests_total{listener="h2front",route="#1",pool="h2app",code="2xx"}'), 1, 'a request to an h2c pool is counted');

  assert.equal(delta('switchyard_filter_events_total{filter="cache",event="miss"}'), 1);
  assert.equal(delta('switchyard_filter_events_total{filter="cache",event="hit"}'), 1);
});
