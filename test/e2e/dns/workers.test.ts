// DNS in the traffic workers: with `workers: 2` every worker binds the dns.listen addresses (SO_REUSEPORT)
// and the primary holds no DNS socket (a flood never reaches the control plane); a DNS-only config starts
// workers; queries from many source ports are answered by both workers; a killed worker's siblings keep
// answering while a replacement starts; a health transition reaches every worker's `pool:` answers within
// one health interval; the dns metrics are the workers' sum.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { dig } from './support.ts';
import { queryBytes } from '../../../src/dns/wire/fixtures.ts';
import { decodeMessage } from '../../../src/dns/resolver/message.ts';

const run = promisify(execFile);

/** Pids of the processes holding a listening socket on port (ss -p), per protocol. */
async function socketOwners(port: number, protocol: 'udp' | 'tcp'): Promise<Set<number>> {
  const { stdout } = await run('ss', ['-H', protocol === 'udp' ? '-lunp' : '-ltnp', `sport = :${port}`]);
  return new Set([...stdout.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1])));
}

/** One query from a fresh socket (a new source port, so SO_REUSEPORT may pick any worker); the A addresses back. */
async function queryA(port: number, name: string, timeoutMs = 2000): Promise<string[]> {
  const socket = dgram.createSocket('udp4');
  try {
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer for ${name} within ${timeoutMs}ms`)), timeoutMs);
      socket.once('message', (data) => {
        clearTimeout(timer);
        resolve(data);
      });
      socket.send(queryBytes(name, 1), port, '127.0.0.1');
    });
    return decodeMessage(answer)!
      .answer.filter((record) => record.type === 1)
      .map((record) => [...record.rdata].join('.'))
      .sort();
  } finally {
    socket.close();
  }
}

async function adminGet(running: RunningSwitchyard, pathname: string): Promise<Response> {
  const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
  return fetch(`http://127.0.0.1:${running.ready.admin!.port}${pathname}`, { headers: { authorization: `Bearer ${token}` } });
}

/** Queries answered per worker pid, from the admin API's per-worker status. */
async function queriesPerWorker(running: RunningSwitchyard): Promise<Map<number, number>> {
  const status = (await (await adminGet(running, '/api/status')).json()) as { traffic: { pid: number; dns?: { counters: { queries: number } } }[] };
  return new Map(status.traffic.map((worker) => [worker.pid, worker.dns?.counters.queries ?? 0]));
}

const zone = `
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records:
        - { name: "@", type: A, value: 192.0.2.1 }
        - { name: www, type: A, value: 192.0.2.2 }`;

describe('dns served by two workers (DNS-only config)', () => {
  let running: RunningSwitchyard;
  let port: number;
  before(async () => {
    running = await runSwitchyard(`workers: 2\nadmin: { listen: 127.0.0.1:0 }\ndns:\n  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]\n${zone}\n`);
    const udp = running.ready.dns!.find((entry) => entry.transport === 'udp')!;
    assert.equal(running.ready.dns!.find((entry) => entry.transport === 'tcp')!.port, udp.port, 'udp and tcp on port 0 share one port');
    port = udp.port;
  });
  after(() => running?.stop());

  it('both workers bind UDP and TCP; the primary holds no DNS socket', async () => {
    const primary = running.process.pid!;
    for (const protocol of ['udp', 'tcp'] as const) {
      const owners = await socketOwners(port, protocol);
      assert.equal(owners.size, 2, `${protocol}: two workers hold the port (${[...owners].join(', ')})`);
      assert.equal(owners.has(primary), false, `${protocol}: the primary ${primary} holds no DNS socket`);
    }
    const workers = [...(await queriesPerWorker(running)).keys()];
    assert.deepEqual([...(await socketOwners(port, 'udp'))].sort(), workers.sort(), 'the socket owners are the workers the primary reports');
  });

  it('answers over UDP and TCP (dig), and queries from many source ports reach both workers', async () => {
    assert.deepEqual((await dig({ host: '127.0.0.1', port }, ['www.example.test', 'A'])).answer.map((record) => record[4]), ['192.0.2.2']);
    assert.deepEqual((await dig({ host: '127.0.0.1', port }, ['+tcp', 'example.test', 'A'])).answer.map((record) => record[4]), ['192.0.2.1']);
    const before = await queriesPerWorker(running);
    for (let index = 0; index < 40; index++) assert.deepEqual(await queryA(port, 'www.example.test.'), ['192.0.2.2']);
    const after = await queriesPerWorker(running);
    const answeredBy = [...after].filter(([pid, count]) => count > (before.get(pid) ?? 0)).map(([pid]) => pid);
    assert.equal(answeredBy.length, 2, `40 source ports spread over both workers (per worker: ${JSON.stringify([...after])})`);
    const total = [...after].reduce((sum, [pid, count]) => sum + count - (before.get(pid) ?? 0), 0);
    assert.equal(total, 40);
  });

  it('dns metrics are the sum over the workers', async () => {
    const status = (await (await adminGet(running, '/api/status')).json()) as { dns: { counters: { queries: number } }; traffic: { dns: { counters: { queries: number } } }[] };
    assert.equal(status.dns.counters.queries, status.traffic.reduce((sum, worker) => sum + worker.dns.counters.queries, 0));
    const metrics = await (await adminGet(running, '/metrics')).text();
    const queries = [...metrics.matchAll(/^switchyard_dns_queries_total\{[^}]*\} (\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    assert.ok(queries >= 42, `switchyard_dns_queries_total sums both workers (${queries})`);
  });

  it('a reload with a new record reaches every worker; one with a broken zone is refused by all and nothing changes', async () => {
    const reload = async (): Promise<{ ok: boolean; error?: string }> => {
      const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
      const response = await fetch(`http://127.0.0.1:${running.ready.admin!.port}/api/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      return (await response.json()) as { ok: boolean; error?: string };
    };
    const config = await readFile(running.configFile, 'utf8');
    await writeFile(running.configFile, config.replace('- { name: www, type: A, value: 192.0.2.2 }', '- { name: www, type: A, value: 192.0.2.2 }\n        - { name: new, type: A, value: 192.0.2.3 }'));
    assert.deepEqual(await reload(), { ok: true, config: running.configFile });
    const before = await queriesPerWorker(running);
    for (let index = 0; index < 20; index++) assert.deepEqual(await queryA(port, 'new.example.test.'), ['192.0.2.3']);
    const after = await queriesPerWorker(running);
    assert.equal([...after].filter(([pid, count]) => count > (before.get(pid) ?? 0)).length, 2, 'both workers answered the new record');

    // a zone file is read by the workers (the primary only validates the config): its error comes from them
    await writeFile(path.join(running.dir, 'broken.zone'), '$ORIGIN broken.test.\n@ 300 IN SOA ns1 h 1 3600 600 604800 60\nwww 300 IN A 300.1.1.1\n');
    await writeFile(running.configFile, `${config}    - { origin: broken.test., file: ./broken.zone }\n`);
    const refused = await reload();
    assert.equal(refused.ok, false);
    assert.match(refused.error ?? '', /broken\.zone:3: .*300\.1\.1\.1/);
    for (let index = 0; index < 10; index++) assert.deepEqual(await queryA(port, 'new.example.test.'), ['192.0.2.3'], 'the running zones stay');
    await writeFile(running.configFile, config);
  });

  it('a second edge on the same DNS port is refused at start (SO_REUSEPORT would otherwise let it join silently)', async () => {
    for (const transport of ['udp', 'tcp']) {
      await assert.rejects(runSwitchyard(`workers: 1\ndns:\n  listen: [${transport}://127.0.0.1:${port}]\n${zone}\n`), new RegExp(`dns ${transport}://127\\.0\\.0\\.1:${port}: 127\\.0\\.0\\.1:${port} is already in use by another process`));
    }
  });

  it('a killed worker: the other keeps answering every query, and a replacement binds the port again', async () => {
    const [victim, survivor] = [...(await socketOwners(port, 'udp'))];
    process.kill(victim, 'SIGKILL');
    await running.waitForLine((line) => line.msg === 'worker exited; starting a new one' && line.worker === victim);
    // nothing was in flight: every query after the kill is answered (by the survivor, or the replacement)
    for (let index = 0; index < 20; index++) assert.deepEqual(await queryA(port, 'example.test.'), ['192.0.2.1']);
    await running.waitForLine((line) => line.msg === 'dns: listening' && line.pid !== victim && line.pid !== survivor && line.pid !== running.process.pid);
    const owners = await socketOwners(port, 'udp');
    assert.equal(owners.size, 2);
    assert.equal(owners.has(victim), false);
    assert.equal(owners.has(survivor), true);
    for (let index = 0; index < 20; index++) assert.deepEqual(await queryA(port, 'example.test.'), ['192.0.2.1']);
  });
});

describe('health-aware answers from two workers', () => {
  let running: RunningSwitchyard;
  let port: number;
  const hosts = ['127.0.0.2', '127.0.0.3'];
  const servers: net.Server[] = [];
  let backendPort = 0;
  const interval = 300;
  const listen = (host: string): Promise<net.Server> =>
    new Promise((resolve, reject) => {
      const server = net.createServer((socket) => socket.destroy());
      server.once('error', reject).listen(backendPort, host, () => resolve(server));
    });
  before(async () => {
    servers.push(await listen(hosts[0]));
    backendPort = (servers[0].address() as net.AddressInfo).port;
    servers.push(await listen(hosts[1]));
    running = await runSwitchyard(`workers: 2
admin: { listen: 127.0.0.1:0 }
pools:
  app:
    backends: [ { address: ${hosts[0]}:${backendPort} }, { address: ${hosts[1]}:${backendPort} } ]
    health: { type: tcp, interval: ${interval}ms, timeout: 200ms, rise: 1, fall: 1 }
dns:
  listen: [udp://127.0.0.1:0]
  zones:
    - origin: shop.test.
      soa: { mname: ns1.shop.test., rname: hostmaster.shop.test. }
      records:
        - { name: lb, type: A, pool: app, ttl: 5 }
`);
    port = running.ready.dns![0].port;
  });
  after(async () => {
    await running?.stop();
    for (const server of servers) server.close();
  });

  /** 20 queries from fresh source ports, right after `since`: every answer, which workers answered, and how long it took. */
  async function answersFromEveryWorker(since: number): Promise<{ answers: Set<string>; workers: number; elapsed: number }> {
    const before = await queriesPerWorker(running);
    const answers = new Set<string>();
    for (let index = 0; index < 20; index++) answers.add((await queryA(port, 'lb.shop.test.')).join(' '));
    const elapsed = Date.now() - since;
    const after = await queriesPerWorker(running);
    return { answers, workers: [...after].filter(([pid, count]) => count > (before.get(pid) ?? 0)).length, elapsed };
  }

  it('a backend going down, then up: every worker answers the new set within one health interval', async () => {
    assert.deepEqual(await queryA(port, 'lb.shop.test.'), hosts);
    await new Promise<void>((resolve) => servers[0].close(() => resolve()));
    await running.waitForLine((line) => line.msg === 'backend down' && line.backend === `${hosts[0]}:${backendPort}`, 10_000);
    const down = await answersFromEveryWorker(Date.now());
    assert.deepEqual([...down.answers], [hosts[1]], 'no answer names the backend that went down');
    assert.equal(down.workers, 2, 'both workers answered');
    assert.ok(down.elapsed < interval, `answered within one interval of the transition (${down.elapsed} ms)`);

    servers[0] = await listen(hosts[0]);
    await running.waitForLine((line) => line.msg === 'backend up' && line.backend === `${hosts[0]}:${backendPort}`, 10_000);
    const up = await answersFromEveryWorker(Date.now());
    assert.deepEqual([...up.answers], [hosts.join(' ')]);
    assert.equal(up.workers, 2, 'both workers answered');
    assert.ok(up.elapsed < interval, `answered within one interval of the transition (${up.elapsed} ms)`);
  });
});

describe('dns over tls from two workers (self-signed)', () => {
  let running: RunningSwitchyard;
  before(async () => {
    // each worker makes sure of the self-signed CA and certificate at start (openssl key generation: slow on a busy machine)
    running = await runSwitchyard(`workers: 2\ndns:\n  listen: [tls://127.0.0.1:0]\n  tls: { self_signed: true }\n${zone}\n`, { timeoutMs: 60_000 });
  });
  after(() => running?.stop());

  it('both workers hold the DoT port, the primary none, and kdig +tls is answered', async () => {
    const port = running.ready.dns!.find((entry) => entry.transport === 'tls')!.port;
    const owners = await socketOwners(port, 'tcp');
    assert.equal(owners.size, 2);
    assert.equal(owners.has(running.process.pid!), false);
    const ca = path.join(running.dir, 'data', 'tls', 'ca', 'ca.pem');
    for (let index = 0; index < 4; index++) {
      const { stdout } = await run('kdig', ['@127.0.0.1', '-p', String(port), '+tls', `+tls-ca=${ca}`, '+tls-hostname=localhost', '+retry=0', '+time=5', 'www.example.test', 'A'], { timeout: 15_000 });
      assert.match(stdout, /www\.example\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.2/);
    }
  });
});
