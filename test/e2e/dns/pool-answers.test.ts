// Health-aware answers: A/AAAA records with `pool:` answer the healthy backends' addresses, change when
// health flips (a fake source we flip, then real pools with TCP health checks and a killed backend), fall
// back to every backend when none is healthy, and come in weighted-random order for weighted pools.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseConfigText } from '../../../src/config/index.ts';
import { systemClock } from '../../../src/core/index.ts';
import { HealthCheckers } from '../../../src/health/index.ts';
import { buildPools } from '../../../src/pool/index.ts';
import type { PoolAddress, PoolAddressSource } from '../../../src/dns/index.ts';
import { decodeMessage } from '../../../src/dns/resolver/message.ts';
import { queryBytes } from '../../support/dns-queries.ts';
import { dig, startDns, udpExchange, type RunningDns } from './support.ts';
import { anchorPort, listenReusingPort, type PortAnchor } from '../../support/ports.ts';

/** A pool source the test flips by hand. */
class FakePools implements PoolAddressSource {
  readonly backends = new Map<string, (PoolAddress & { healthy: boolean })[]>();
  healthyAddresses(pool: string): PoolAddress[] | undefined {
    return this.backends.get(pool)?.filter((backend) => backend.healthy);
  }
  allAddresses(pool: string): PoolAddress[] | undefined {
    return this.backends.get(pool);
  }
  set(pool: string, host: string, healthy: boolean): void {
    const backend = this.backends.get(pool)!.find((candidate) => candidate.host === host)!;
    backend.healthy = healthy;
  }
}

const poolsYaml = `
pools:
  users: { backends: [ { address: 127.0.0.1:1 } ] }
  v6: { backends: [ { address: "[::1]:1" } ] }
  weighted: { backends: [ { address: 127.0.0.1:2 } ] }
`;
const zoneYaml = `
  zones:
    - origin: shop.test.
      soa: { mname: ns1.shop.test., rname: hostmaster.shop.test. }
      records:
        - { name: lb, type: A, pool: users, ttl: 10 }
        - { name: lb, type: AAAA, pool: v6, ttl: 10 }
        - { name: api, type: CNAME, value: lb }
        - { name: "*.apps", type: A, pool: users, ttl: 5 }
        - { name: heavy, type: A, pool: weighted, ttl: 10 }
`;

const addressesOf = (records: string[][]): string[] => records.filter((record) => record[3] === 'A' || record[3] === 'AAAA').map((record) => record[4]).sort();

describe('dns pool answers (fake source)', () => {
  const pools = new FakePools();
  let dns: RunningDns;
  before(async () => {
    pools.backends.set('users', [
      { host: '127.0.0.11', port: 80, weight: 1, healthy: true },
      { host: '127.0.0.12', port: 80, weight: 1, healthy: true },
      { host: '::1', port: 80, weight: 1, healthy: true },
    ]);
    pools.backends.set('v6', [{ host: '2001:db8::10', port: 80, weight: 1, healthy: true }]);
    pools.backends.set('weighted', [
      { host: '127.0.0.21', port: 80, weight: 9, healthy: true },
      { host: '127.0.0.22', port: 80, weight: 1, healthy: true },
    ]);
    dns = await startDns(`${poolsYaml}\ndns:\n  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]\n${zoneYaml}`, { pools });
  });
  after(() => dns?.stop());

  it('answers the healthy addresses of the family asked, with the record TTL', async () => {
    const result = await dig(dns, ['lb.shop.test', 'A']);
    assert.ok(result.flags.includes('aa'));
    assert.deepEqual(addressesOf(result.answer), ['127.0.0.11', '127.0.0.12']);
    assert.ok(result.answer.every((record) => record[1] === '10'));
    const v6 = await dig(dns, ['lb.shop.test', 'AAAA']);
    assert.deepEqual(addressesOf(v6.answer), ['2001:db8::10']);
  });

  it('changes the answer when the source flips, and answers all when none is healthy', async () => {
    pools.set('users', '127.0.0.12', false);
    assert.deepEqual(addressesOf((await dig(dns, ['lb.shop.test', 'A'])).answer), ['127.0.0.11']);
    pools.set('users', '127.0.0.11', false);
    assert.deepEqual(addressesOf((await dig(dns, ['lb.shop.test', 'A'])).answer), ['127.0.0.11', '127.0.0.12']);
    pools.set('users', '127.0.0.11', true);
    pools.set('users', '127.0.0.12', true);
    assert.deepEqual(addressesOf((await dig(dns, ['lb.shop.test', 'A'])).answer), ['127.0.0.11', '127.0.0.12']);
  });

  it('serves pool records through CNAME chains and wildcards', async () => {
    const api = await dig(dns, ['api.shop.test', 'A']);
    assert.deepEqual(api.answer[0].slice(3), ['CNAME', 'lb.shop.test.']);
    assert.deepEqual(addressesOf(api.answer), ['127.0.0.11', '127.0.0.12']);
    const wild = await dig(dns, ['X1.apps.shop.test', 'A']);
    assert.equal(wild.answer[0][0], 'X1.apps.shop.test.');
    assert.deepEqual(addressesOf(wild.answer), ['127.0.0.11', '127.0.0.12']);
  });

  it('orders weighted pools by weighted random choice', async () => {
    let heavyFirst = 0;
    const rounds = 300;
    for (let round = 0; round < rounds; round++) {
      const answer = decodeMessage(await udpExchange(dns, queryBytes('heavy.shop.test.', 1, { id: round })))!;
      if (answer.answer[0].rdata.join('.') === '127.0.0.21') heavyFirst++;
    }
    // weight 9 of 10: expect ~270; the bounds leave room for chance (p < 1e-6 outside)
    assert.ok(heavyFirst > 230 && heavyFirst < 298, `heavy first ${heavyFirst} of ${rounds}`);
  });
});

describe('dns pool answers (real pools, TCP health checks, a killed backend)', () => {
  const backends: net.Server[] = [];
  const anchors: PortAnchor[] = [];
  let dns: RunningDns;
  let checkers: HealthCheckers;
  const transitions: { id: string; healthy: boolean }[] = [];
  const waiters = new Set<() => void>();
  const waitFor = (predicate: () => boolean, timeoutMs = 10_000): Promise<void> =>
    new Promise((resolve, reject) => {
      if (predicate()) return resolve();
      const timer = setTimeout(() => reject(new Error('timed out waiting for a health transition')), timeoutMs);
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });

  before(async () => {
    // anchored ports: when the test closes a backend, its port stays refused, never taken by another process
    for (let i = 0; i < 2; i++) {
      const anchor = await anchorPort();
      anchors.push(anchor);
      const server = net.createServer((socket) => socket.destroy());
      await listenReusingPort(server, anchor.host, anchor.port);
      backends.push(server);
    }
    const ports = anchors.map((anchor) => anchor.port);
    const yaml = `
pools:
  users:
    backends: [ { address: "127.0.0.1:${ports[0]}" }, { address: "127.0.0.2:${ports[1]}" } ]
    health: { type: tcp, interval: 100ms, timeout: 500ms, rise: 1, fall: 1 }
dns:
  listen: [udp://127.0.0.1:0]
  zones:
    - origin: shop.test.
      soa: { mname: ns1.shop.test., rname: hostmaster.shop.test. }
      records:
        - { name: lb, type: A, pool: users, ttl: 10 }
`;
    // the second backend listens on 127.0.0.1 only, so 127.0.0.2:port is refused: it starts unhealthy
    const { config } = parseConfigText(yaml, 'inline', '/tmp');
    const registry = buildPools(config.pools, { clock: systemClock });
    checkers = new HealthCheckers({
      onTransition: (pool, id, healthy, reason) => {
        registry.get(pool)?.setHealth(id, healthy, reason);
        transitions.push({ id, healthy });
        for (const waiter of [...waiters]) waiter();
      },
    });
    checkers.apply(config.pools);
    await checkers.start();
    dns = await startDns(yaml, { pools: { healthyAddresses: (pool) => registry.get(pool)?.healthyAddresses() } });
  });
  after(async () => {
    await checkers?.stop();
    await dns?.stop();
    for (const server of backends) server.close();
    for (const anchor of anchors) await anchor.release();
  });

  it('drops a backend from the answer once its health check fails', async () => {
    const first = `127.0.0.1:${(backends[0].address() as net.AddressInfo).port}`;
    await waitFor(() => transitions.some((transition) => transition.id.startsWith('127.0.0.2') && !transition.healthy));
    assert.deepEqual(addressesOf((await dig(dns, ['lb.shop.test', 'A'])).answer), ['127.0.0.1']);
    // kill the healthy one: none is healthy now, so the answer holds every backend
    backends[0].close();
    await waitFor(() => transitions.some((transition) => transition.id === first && !transition.healthy));
    assert.deepEqual(addressesOf((await dig(dns, ['lb.shop.test', 'A'])).answer), ['127.0.0.1', '127.0.0.2']);
  });
});
