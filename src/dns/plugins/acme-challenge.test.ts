// The acme-challenge link answers pending dns-01 TXT values inside our zones only, before the zone's own
// answer (NXDOMAIN there), and steps aside when nothing is pending or for other names and types.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText } from '../../config/index.ts';
import { silentLogger } from '../../core/index.ts';
import { DnsEngine, newCounters } from '../engine.ts';
import { buildHandlers } from '../handlers.ts';
import { queryBytes } from '../../../test/support/dns-queries.ts';
import { decodeMessage } from '../resolver/message.ts';
import { loadZone } from '../zone/load.ts';
import { ZoneSet } from '../zone/zone-set.ts';
import type { ChallengeTxtSource } from './acme-challenge.ts';

/** Keys as the DNS component makes them (length-prefixed lowercase labels). */
const keyOf = (name: string) => name.split('.').map((label) => String.fromCharCode(label.length) + label).join('');
const txt = (value: string) => Buffer.concat([Buffer.from([value.length]), Buffer.from(value)]);

function source(entries: Record<string, string[]>): ChallengeTxtSource {
  const map = new Map(Object.entries(entries).map(([name, values]) => [keyOf(name), values.map(txt)]));
  return { size: map.size, txt: (key) => map.get(key) };
}

async function engine(challenges: ChallengeTxtSource): Promise<DnsEngine> {
  const { config } = parseConfigText('dns:\n  zones:\n    - { origin: example.test., soa: { mname: ns1.example.test., rname: hostmaster.example.test. } }\n', 'inline', '/tmp');
  const zones = new ZoneSet([await loadZone(config.dns!.zones[0], 0, '/tmp', 0)]);
  return new DnsEngine(zones, buildHandlers(config.dns!, zones, undefined, undefined, Math.random, newCounters(), challenges), 1232, silentLogger(), newCounters());
}

function ask(dns: DnsEngine, name: string, type: number) {
  const outcome = dns.answer(queryBytes(name, type, { edns: 1232 }), 'udp', '127.0.0.1');
  assert.ok(Buffer.isBuffer(outcome));
  return decodeMessage(outcome)!;
}

test('pending dns-01 values answer TXT with AA and TTL 0; everything else is the zone’s', async () => {
  const dns = await engine(source({ '_acme-challenge.example.test': ['one', 'two'], '_acme-challenge.other.test': ['x'] }));
  const answer = ask(dns, '_acme-challenge.EXAMPLE.test.', 16);
  assert.equal(answer.rcode, 0);
  assert.ok(answer.flags & 0x0400, 'authoritative');
  assert.deepEqual(answer.answer.map((record) => [record.type, record.ttl, record.rdata.subarray(1).toString()]), [[16, 0, 'one'], [16, 0, 'two']]);
  // a name outside our zones is never answered by us
  assert.equal(ask(dns, '_acme-challenge.other.test.', 16).rcode, 5);
  // other types and names: the zone answers (NXDOMAIN: no such name in it)
  assert.equal(ask(dns, '_acme-challenge.example.test.', 1).rcode, 3);
  assert.equal(ask(dns, '_acme-challenge.www.example.test.', 16).rcode, 3);
});

test('nothing pending: the link passes', async () => {
  const dns = await engine(source({}));
  assert.equal(ask(dns, '_acme-challenge.example.test.', 16).rcode, 3);
});
