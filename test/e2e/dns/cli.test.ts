// The DNS server inside the real `switchyard start` process: authoritative answers over UDP and TCP, and
// a `pool:` record whose answer changes when the primary's health checks see a backend die.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { dig } from './support.ts';

describe('dns through switchyard start', () => {
  const backends: net.Server[] = [];
  let running: RunningSwitchyard;
  let target: { host: string; port: number };
  before(async () => {
    for (let i = 0; i < 2; i++) {
      const server = net.createServer((socket) => socket.destroy());
      // distinct loopback addresses, so the DNS answer shows which backends are in it
      await new Promise<void>((resolve) => server.listen(0, `127.0.0.${i + 1}`, resolve));
      backends.push(server);
    }
    const ports = backends.map((server) => (server.address() as net.AddressInfo).port);
    running = await runSwitchyard(`
pools:
  users:
    backends: [ { address: "127.0.0.1:${ports[0]}" }, { address: "127.0.0.2:${ports[1]}" } ]
    health: { type: tcp, interval: 100ms, timeout: 500ms, rise: 1, fall: 1 }
dns:
  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]
  zones:
    - origin: shop.test.
      soa: { mname: ns1.shop.test., rname: hostmaster.shop.test. }
      records:
        - { name: www, type: A, value: 192.0.2.1 }
        - { name: lb, type: A, pool: users, ttl: 5 }
`);
    const udp = running.ready.dns?.find((address) => address.transport === 'udp');
    assert.ok(udp, `dns addresses in the ready line: ${JSON.stringify(running.ready)}`);
    target = { host: udp.host, port: udp.port };
  });
  after(async () => {
    await running?.stop();
    for (const server of backends) server.close();
  });

  it('answers from its zones over UDP and TCP', async () => {
    assert.deepEqual((await dig(target, ['www.shop.test', 'A'])).answer.map((record) => record[4]), ['192.0.2.1']);
    assert.deepEqual((await dig(target, ['+tcp', 'www.shop.test', 'A'], 'kdig')).answer.map((record) => record[4]), ['192.0.2.1']);
  });

  it('drops a killed backend from a pool record', async () => {
    const killed = `127.0.0.2:${(backends[1].address() as net.AddressInfo).port}`;
    const answer = async (): Promise<string[]> => (await dig(target, ['lb.shop.test', 'A'])).answer.map((record) => record[4]).sort();
    // both backends listen, so both are in the answer (once the first checks ran: bounded poll)
    let initial: string[] = [];
    for (let attempt = 0; attempt < 50 && initial.length < 2; attempt++) {
      initial = await answer();
      if (initial.length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(initial, ['127.0.0.1', '127.0.0.2']);
    backends[1].close();
    await running.waitForLine((line) => line.msg === 'backend down' && line.backend === killed);
    assert.deepEqual(await answer(), ['127.0.0.1']);
  });
});
