// Iterative resolution through a local hierarchy of Switchyard instances, each on its own loopback address
// and port 53 (the referrals carry addresses only, so every server must listen on 53; the tests run as
// root). A random 127.53.X.0/24 keeps parallel runs apart:
//   root  127.53.X.2  zone "."        delegates test. and net. to ns.tld.test. (glue)
//   tld   127.53.X.3  zones test. net. delegates example.test. (glue) and other.test. to ns.hoster.net. (no glue)
//   auth  127.53.X.4  zones example.test. other.test.
// The resolver starts from root hints and reports its walk on the switchyard:dns:upstream channel.
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import { dig, startDns, type RunningDns } from './support.ts';

const net = `127.53.${1 + Math.floor(Math.random() * 250)}`;
const ROOT = `${net}.2`;
const TLD = `${net}.3`;
const AUTH = `${net}.4`;

const listen = (host: string): string => `listen: [udp://${host}:53, tcp://${host}:53]`;
const soa = (zone: string): string => `soa: { mname: ns.${zone}, rname: hostmaster.${zone}, negative_ttl: 30 }`;

const rootConfig = `
dns:
  ${listen(ROOT)}
  zones:
    - origin: .
      ${soa('root.')}
      records:
        - { name: "@", type: NS, value: a.root-servers.test. }
        - { name: test, type: NS, value: ns.tld.test. }
        - { name: net, type: NS, value: ns.tld.test. }
        - { name: ns.tld.test, type: A, value: ${TLD} }
        - { name: a.root-servers.test, type: A, value: ${ROOT} }
`;
const tldConfig = `
dns:
  ${listen(TLD)}
  zones:
    - origin: test.
      ${soa('test.')}
      records:
        - { name: "@", type: NS, value: ns.tld.test. }
        - { name: ns.tld, type: A, value: ${TLD} }
        - { name: example, type: NS, value: ns1.example.test. }
        - { name: ns1.example, type: A, value: ${AUTH} }
        - { name: other, type: NS, value: ns.hoster.net. }
    - origin: net.
      ${soa('net.')}
      records:
        - { name: "@", type: NS, value: ns.tld.test. }
        - { name: ns.hoster, type: A, value: ${AUTH} }
`;
const authConfig = `
dns:
  ${listen(AUTH)}
  zones:
    - origin: example.test.
      ${soa('example.test.')}
      records:
        - { name: "@", type: NS, value: ns1.example.test. }
        - { name: ns1, type: A, value: ${AUTH} }
        - { name: www, type: A, value: 192.0.2.80 }
        - { name: alias, type: CNAME, value: www.other.test. }
    - origin: other.test.
      ${soa('other.test.')}
      records:
        - { name: "@", type: NS, value: ns.hoster.net. }
        - { name: www, type: A, value: 192.0.2.81 }
`;
const resolverConfig = `
dns:
  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]
  resolver:
    allow: [127.0.0.0/8]
    root_hints: root.hints
    timeout: 1s
`;
const rootHints = `; root hints in master-file format
.                     3600000  NS  a.root-servers.test.
a.root-servers.test.  3600000  A   ${ROOT}
`;

describe('dns iterative resolution (root → TLD → authoritative)', () => {
  const servers: RunningDns[] = [];
  let resolver: RunningDns;
  const walk: string[] = [];
  const record = (message: unknown): void => {
    const { server, name } = message as { server: string; name: string };
    walk.push(`${server.replace(/:53$/, '')} ${name}`);
  };
  before(async () => {
    // binding port 53 needs root (or CAP_NET_BIND_SERVICE): say so instead of failing obscurely, never skip
    assert.equal(process.getuid?.(), 0, 'this test binds port 53 on loopback addresses: run it as root (npm test does in CI)');
    for (const config of [rootConfig, tldConfig, authConfig]) servers.push(await startDns(config));
    resolver = await startDns(resolverConfig, { files: { 'root.hints': rootHints } });
    diagnostics.subscribe('switchyard:dns:upstream', record);
  });
  after(async () => {
    diagnostics.unsubscribe('switchyard:dns:upstream', record);
    await Promise.all([resolver?.stop(), ...servers.map((server) => server.stop())]);
  });

  it('walks root, TLD and authoritative server following referrals with glue', async () => {
    walk.length = 0;
    const result = await dig(resolver, ['www.example.test', 'A']);
    assert.equal(result.status, 'NOERROR');
    assert.deepEqual(result.answer.map((answer) => answer[4]), ['192.0.2.80']);
    assert.deepEqual(walk, [`${ROOT} www.example.test.`, `${TLD} www.example.test.`, `${AUTH} www.example.test.`]);
  });

  it('resolves the name server first when a referral has no glue', async () => {
    walk.length = 0;
    const result = await dig(resolver, ['www.other.test', 'A'], 'kdig');
    assert.deepEqual(result.answer.map((answer) => answer[4]), ['192.0.2.81']);
    // test. is known now, so the walk starts at the TLD; ns.hoster.net. needs root → TLD (net.)
    assert.deepEqual(walk, [`${TLD} www.other.test.`, `${ROOT} ns.hoster.net.`, `${TLD} ns.hoster.net.`, `${AUTH} www.other.test.`]);
  });

  it('follows a CNAME into another zone and keeps the chain in the answer', async () => {
    walk.length = 0;
    const result = await dig(resolver, ['alias.example.test', 'A']);
    assert.deepEqual(
      result.answer.map((answer) => `${answer[0]} ${answer[3]} ${answer[4]}`),
      ['alias.example.test. CNAME www.other.test.', 'www.other.test. A 192.0.2.81'],
    );
    assert.deepEqual(walk, [`${AUTH} alias.example.test.`], 'www.other.test. A came from the cache');
  });

  it('returns NXDOMAIN from the authoritative server with its SOA', async () => {
    const result = await dig(resolver, ['missing.example.test', 'A']);
    assert.equal(result.status, 'NXDOMAIN');
    assert.equal(result.authority[0][0], 'example.test.');
    assert.equal(result.authority[0][3], 'SOA');
  });
});
