// A config snapshot survives the trip to a worker (v8 serialisation, as cluster IPC with 'advanced' does it)
// whole: same data, CIDR ranges usable as ipaddr.js objects again, ports fixed, no admin section; the dns
// section travels with its listen ports resolved and its resolver.allow ranges working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize, serialize } from 'node:v8';
import { parseConfigText } from '../config/index.ts';
import { TrustedProxies } from '../l7/index.ts';
import { loadedFromSnapshot, snapshotOf, type ConfigSnapshot } from './config-snapshot.ts';

const yaml = `
admin: { listen: 127.0.0.1:0 }
dns:
  listen: [udp://127.0.0.1:0]
  resolver: { forward: [127.0.0.1:53], allow: [10.0.0.0/8] }
  zones: [ { origin: example.test, soa: { mname: ns1.example.test., rname: hostmaster.example.test. }, records: [ { name: "@", type: A, value: 127.0.0.1 } ] } ]
pools:
  app:
    balance: consistent_hash
    hash_key: header:x-user
    backends: [ { address: 127.0.0.1:3001 } ]
listeners:
  - name: web
    listen: 127.0.0.1:0
    forwarded: { trusted_proxies: [10.0.0.0/8, "::1/128", 192.168.1.7] }
    accept_proxy_protocol: [172.16.0.0/12]
    access: { deny: ["2001:db8::/32"] }
    routes:
      - match: { host: "*.example.test", path_regex: "^/api/v[0-9]+/" }
        pool: app
      - match: { path_prefix: / }
        respond: { status: 404, body: "nothing here" }
`;

test('a snapshot crosses v8 serialisation with its data intact and its CIDR ranges working', () => {
  const loaded = parseConfigText(yaml, 'inline.yaml', '/srv');
  const received = deserialize(serialize(snapshotOf(loaded, { web: 4321 }, [{ transport: 'udp', host: '127.0.0.1', port: 5300 }]))) as ConfigSnapshot;
  const revived = loadedFromSnapshot(received);

  assert.equal(revived.file, 'inline.yaml');
  assert.equal(revived.baseDir, '/srv');
  assert.deepEqual(revived.config.dns!.listen, [{ transport: 'udp', host: '127.0.0.1', port: 5300 }]);
  assert.deepEqual(revived.config.dns!.zones, loaded.config.dns!.zones);
  assert.equal(new TrustedProxies(revived.config.dns!.resolver!.allow).contains('10.1.2.3'), true);
  assert.equal(revived.config.admin, undefined);
  assert.equal(revived.config.listeners[0].listen.port, 4321);
  assert.equal(loaded.config.listeners[0].listen.port, 0, 'the primary keeps its own config untouched');
  assert.deepEqual(revived.config.pools, loaded.config.pools);
  assert.deepEqual(revived.config.listeners[0].routes, loaded.config.listeners[0].routes);
  assert.equal(JSON.stringify(revived.config.listeners[0].forwarded), JSON.stringify(loaded.config.listeners[0].forwarded));

  const trusted = new TrustedProxies(revived.config.listeners[0].forwarded.trusted_proxies);
  assert.equal(trusted.contains('10.20.30.40'), true);
  assert.equal(trusted.contains('::1'), true);
  assert.equal(trusted.contains('192.168.1.7'), true);
  assert.equal(trusted.contains('192.168.1.8'), false);
  assert.equal(trusted.contains('11.0.0.1'), false);
  // the listener layer's lists (src/listener) come back working too
  assert.equal(new TrustedProxies(revived.config.listeners[0].accept_proxy_protocol!).contains('172.20.0.1'), true);
  assert.equal(new TrustedProxies(revived.config.listeners[0].access!.deny!).contains('2001:db8::1'), true);
});

test('a forward proxy snapshot: allow ranges usable again; the dns section travels whole (the workers serve DNS), its resolver client list usable', () => {
  const loaded = parseConfigText(
    `
dns:
  listen: [udp://127.0.0.1:5353]
  zones: [ { origin: example.test, soa: { mname: ns1.example.test., rname: hostmaster.example.test. }, records: [ { name: "@", type: A, value: 127.0.0.1 } ] } ]
  resolver: { allow: [127.0.0.0/8], forward: [127.0.0.1:53] }
listeners:
  - name: egress
    listen: 127.0.0.1:0
    protocol: forward_proxy
    allow: { clients: [10.0.0.0/8], destinations: ["2001:db8::/32"] }
`,
    'inline.yaml',
    '/srv',
  );
  const revived = loadedFromSnapshot(deserialize(serialize(snapshotOf(loaded, { egress: 3128 }))) as ConfigSnapshot);
  const allow = revived.config.listeners[0].allow!;
  assert.ok(allow.clients![0][0].kind() === 'ipv4' && allow.destinations![0][0].kind() === 'ipv6');
  assert.deepEqual(revived.config.dns?.listen, [{ transport: 'udp', host: '127.0.0.1', port: 5353 }]);
  assert.equal(revived.config.dns?.zones.length, 1);
  const resolverAllow = revived.config.dns?.resolver?.allow ?? [];
  assert.ok(resolverAllow.length === 1 && resolverAllow[0][0].kind() === 'ipv4');
});
