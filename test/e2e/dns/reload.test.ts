// Reload: build-then-swap (a bad zone keeps the old data and names file:line), zone files re-read when
// they change on disk, and new TCP limits for the open listener.
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfigText } from '../../../src/config/index.ts';
import { ConfigError } from '../../../src/core/index.ts';
import { dig, startDns, type RunningDns } from './support.ts';

const zone = (serial: number, address: string): string => `$ORIGIN example.test.
$TTL 60
@ SOA ns1 hostmaster ${serial} 1h 10m 1w 30
@ NS ns1
ns1 A 127.0.0.1
www A ${address}
`;

const yaml = (extra = ''): string => `
dns:
  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]
  zones:
    - origin: example.test.
      file: example.zone
${extra}`;

interface ZoneFileEvent {
  ok: boolean;
  serial?: number;
  error?: string;
}

describe('dns reload and zone file watching', () => {
  let dns: RunningDns;
  const events: ZoneFileEvent[] = [];
  const waiters = new Set<(event: ZoneFileEvent) => void>();
  const onEvent = (message: unknown): void => {
    events.push(message as ZoneFileEvent);
    for (const waiter of [...waiters]) waiter(message as ZoneFileEvent);
  };
  const nextEvent = (predicate: (event: ZoneFileEvent) => boolean): Promise<ZoneFileEvent> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no zone-file event')), 10_000);
      const waiter = (event: ZoneFileEvent): void => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve(event);
      };
      waiters.add(waiter);
    });
  const www = async (): Promise<string[]> => (await dig(dns, ['www.example.test', 'A'])).answer.map((record) => record[4]);

  before(async () => {
    diagnostics.subscribe('switchyard:dns:zone-file', onEvent);
    dns = await startDns(yaml(), { files: { 'example.zone': zone(1, '192.0.2.1') } });
  });
  after(async () => {
    diagnostics.unsubscribe('switchyard:dns:zone-file', onEvent);
    await dns?.stop();
  });

  it('re-reads a zone file when it changes', async () => {
    assert.deepEqual(await www(), ['192.0.2.1']);
    const reloaded = nextEvent((event) => event.ok && event.serial === 2);
    await writeFile(path.join(dns.dir, 'example.zone'), zone(2, '192.0.2.2'));
    await reloaded;
    assert.deepEqual(await www(), ['192.0.2.2']);
    assert.equal(dns.server.status().zones[0].serial, 2);
  });

  it('keeps the old zone when the changed file is broken', async () => {
    const refused = nextEvent((event) => !event.ok);
    await writeFile(path.join(dns.dir, 'example.zone'), `${zone(3, '192.0.2.3')}bad A 999.1.1.1\n`);
    const event = await refused;
    assert.match(event.error!, /example\.zone:7: expected an IPv4 address/);
    assert.deepEqual(await www(), ['192.0.2.2']);
  });

  it('reload() refuses a bad config with file:line and keeps serving the old zones', async () => {
    await writeFile(path.join(dns.dir, 'broken.zone'), '$ORIGIN broken.test.\n@ SOA ns1 hostmaster 1 1h 10m 1w 30\nwww CNAME a\nwww A 192.0.2.1\n');
    const bad = parseConfigText(yaml(`    - origin: broken.test.\n      file: broken.zone\n`), 'inline', dns.dir).config;
    await assert.rejects(dns.server.reload(bad.dns!), (err: unknown) => err instanceof ConfigError && /broken\.zone:3: .*CNAME and other data/.test(err.message));
    assert.deepEqual(await www(), ['192.0.2.2']);
    assert.equal((await dig(dns, ['www.broken.test', 'A'])).status, 'REFUSED');
  });

  it('reload() swaps in new zones', async () => {
    await writeFile(path.join(dns.dir, 'example.zone'), zone(4, '192.0.2.4'));
    const good = parseConfigText(yaml(`    - origin: added.test.\n      soa: { mname: ns1.added.test., rname: h.added.test. }\n      records: [ { name: www, type: A, value: 192.0.2.44 } ]\n`), 'inline', dns.dir).config;
    await dns.server.reload(good.dns!);
    assert.deepEqual(await www(), ['192.0.2.4']);
    assert.deepEqual((await dig(dns, ['www.added.test', 'A'])).answer.map((record) => record[4]), ['192.0.2.44']);
  });

  it('reload() applies new TCP limits to the open listener', async () => {
    const reloaded = parseConfigText(yaml('  tcp: { max_connections_per_client: 1 }'), 'inline', dns.dir).config;
    await dns.server.reload(reloaded.dns!);
    const sockets = [net.connect(dns.port, dns.host)];
    try {
      for (let i = 0; i < 100 && dns.server.status().tcp_connections < 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      // the second connection from the same address is over the new limit of one: closed at once
      sockets.push(net.connect(dns.port, dns.host));
      await new Promise((resolve) => sockets[1].once('close', resolve));
      assert.equal(sockets[0].destroyed, false);
      assert.equal(dns.server.status().counters.tcp_refused, 1);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});
