// The authoritative server against real dig and kdig: every record type, negative answers with the SOA,
// CNAME chains, wildcards, delegations, case echo, TCP, EDNS and truncation, REFUSED, ANY.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dig, startDns, type RunningDns } from './support.ts';

export const exampleZone = `$ORIGIN example.test.
$TTL 3600
@   IN SOA ns1 hostmaster ( 2024010101 ; serial
        1h 10m 1w 300 )       ; refresh retry expire minimum
    IN NS ns1
    IN NS ns2.example.test.
    IN MX 10 mail
    IN MX 20 mail2.elsewhere.test.
@ CAA 0 issue "letsencrypt.org"
ns1 IN A 127.0.0.1
ns2 300 IN A 127.0.0.2
mail  A 192.0.2.25
www A 192.0.2.1
www AAAA 2001:db8::1
www TXT "hello world" "second string"
alias CNAME www
alias2 CNAME alias
ext CNAME www.elsewhere.test.
broken CNAME missing
*.wild A 192.0.2.99
*.wild TXT "wild"
_sip._tcp SRV 10 60 5060 www
1.2 PTR www
sub NS ns.sub
sub NS ns.other.test.
ns.sub A 192.0.2.53
esc\\.aped TXT "semi\\;colon" "quote\\"d" "\\065BC"
a.b.c.deep A 192.0.2.7
`;

const config = `
dns:
  listen: [udp://127.0.0.1:0, tcp://127.0.0.1:0]
  zones:
    - origin: example.test
      file: example.zone
    - origin: shop.test.
      ttl: 300
      soa: { mname: ns1.shop.test., rname: hostmaster.shop.test., negative_ttl: 60 }
      records:
        - { name: "@", type: A, value: 127.0.0.1 }
        - { name: api, type: CNAME, value: lb.shop.test. }
        - { name: lb, type: A, value: 127.0.0.10, ttl: 10 }
        - { name: "@", type: MX, priority: 10, value: mail.shop.test. }
        - { name: "@", type: TXT, value: "v=spf1 mx -all" }
        - { name: multi, type: TXT, value: ["one", "two"] }
        - { name: long, type: TXT, value: "${'x'.repeat(600)}" }
        - { name: _http._tcp, type: SRV, priority: 1, weight: 5, port: 8080, value: lb }
        - { name: big, type: TXT, value: ["${'a'.repeat(250)}", "${'b'.repeat(250)}", "${'c'.repeat(250)}", "${'d'.repeat(250)}"] }
`;

describe('dns authoritative (dig, kdig)', () => {
  let dns: RunningDns;
  before(async () => {
    dns = await startDns(config, { files: { 'example.zone': exampleZone } });
  });
  after(() => dns?.stop());

  const rdataOf = (records: string[][]): string[] => records.map((record) => record.slice(4).join(' '));

  it('answers every record type with AA', async () => {
    const cases: [string, string, string[]][] = [
      ['www.example.test', 'A', ['192.0.2.1']],
      ['www.example.test', 'AAAA', ['2001:db8::1']],
      ['www.example.test', 'TXT', ['"hello world" "second string"']],
      ['example.test', 'MX', ['10 mail.example.test.', '20 mail2.elsewhere.test.']],
      ['example.test', 'NS', ['ns1.example.test.', 'ns2.example.test.']],
      ['example.test', 'SOA', ['ns1.example.test. hostmaster.example.test. 2024010101 3600 600 604800 300']],
      ['_sip._tcp.example.test', 'SRV', ['10 60 5060 www.example.test.']],
      ['example.test', 'CAA', ['0 issue "letsencrypt.org"']],
      ['1.2.example.test', 'PTR', ['www.example.test.']],
      ['ext.example.test', 'CNAME', ['www.elsewhere.test.']],
      ['shop.test', 'TXT', ['"v=spf1 mx -all"']],
      ['multi.shop.test', 'TXT', ['"one" "two"']],
      ['_http._tcp.shop.test', 'SRV', ['1 5 8080 lb.shop.test.']],
    ];
    for (const [name, type, expected] of cases) {
      const result = await dig(dns, ['+norec', name, type]);
      assert.equal(result.status, 'NOERROR', `${name} ${type}`);
      assert.ok(result.flags.includes('aa'), `${name} ${type}: AA`);
      assert.deepEqual(rdataOf(result.answer).sort(), [...expected].sort(), `${name} ${type}`);
    }
  });

  it('adds in-zone addresses of NS and MX targets to the additional section', async () => {
    const result = await dig(dns, ['example.test', 'NS']);
    assert.deepEqual(result.additional.map((record) => `${record[0]} ${record[4]}`).sort(), ['ns1.example.test. 127.0.0.1', 'ns2.example.test. 127.0.0.2']);
    assert.equal(result.additional.find((record) => record[0] === 'ns2.example.test.')?.[1], '300');
  });

  it('escapes, quoted strings and long TXT values split at 255 bytes', async () => {
    const escaped = await dig(dns, ['esc\\.aped.example.test', 'TXT']);
    assert.deepEqual(rdataOf(escaped.answer), ['"semi;colon" "quote\\"d" "ABC"']);
    const long = await dig(dns, ['+tcp', 'long.shop.test', 'TXT']);
    const strings = long.answer[0].slice(4).map((text) => text.replaceAll('"', '').length);
    assert.deepEqual(strings, [255, 255, 90]);
  });

  it('NXDOMAIN and NODATA carry the SOA with the negative TTL (RFC 2308)', async () => {
    const nx = await dig(dns, ['nope.example.test', 'A']);
    assert.equal(nx.status, 'NXDOMAIN');
    assert.equal(nx.answer.length, 0);
    assert.equal(nx.authority[0][3], 'SOA');
    assert.equal(nx.authority[0][0], 'example.test.');
    assert.equal(nx.authority[0][1], '300'); // min(SOA TTL 3600, minimum 300)
    const nodata = await dig(dns, ['www.example.test', 'MX']);
    assert.equal(nodata.status, 'NOERROR');
    assert.equal(nodata.answer.length, 0);
    assert.equal(nodata.authority[0][3], 'SOA');
    const shop = await dig(dns, ['nothing.shop.test', 'A']);
    assert.equal(shop.status, 'NXDOMAIN');
    assert.equal(shop.authority[0][1], '60');
    // an empty non-terminal exists: NODATA, not NXDOMAIN
    const ent = await dig(dns, ['c.deep.example.test', 'A']);
    assert.equal(ent.status, 'NOERROR');
    assert.equal(ent.answer.length, 0);
  });

  it('chases CNAMEs within the zone and puts the chain in the answer', async () => {
    const result = await dig(dns, ['alias2.example.test', 'A']);
    assert.deepEqual(
      result.answer.map((record) => `${record[0]} ${record[3]} ${record[4]}`),
      ['alias2.example.test. CNAME alias.example.test.', 'alias.example.test. CNAME www.example.test.', 'www.example.test. A 192.0.2.1'],
    );
    const api = await dig(dns, ['api.shop.test', 'A']);
    assert.deepEqual(rdataOf(api.answer), ['lb.shop.test.', '127.0.0.10']);
    const broken = await dig(dns, ['broken.example.test', 'A']);
    assert.equal(broken.status, 'NXDOMAIN'); // RFC 6604: the rcode of the last name in the chain
    assert.equal(broken.answer.length, 1);
    const external = await dig(dns, ['+norec', 'ext.example.test', 'A']);
    assert.equal(external.status, 'NOERROR');
    assert.deepEqual(rdataOf(external.answer), ['www.elsewhere.test.']);
  });

  it('synthesises wildcard answers with the query name as owner (RFC 4592)', async () => {
    const result = await dig(dns, ['Some-Thing.WILD.example.test', 'A']);
    assert.equal(result.status, 'NOERROR');
    assert.ok(result.flags.includes('aa'));
    assert.deepEqual(result.answer.map((record) => `${record[0]} ${record[4]}`), ['Some-Thing.WILD.example.test. 192.0.2.99']);
    const deeper = await dig(dns, ['a.b.wild.example.test', 'TXT']);
    assert.deepEqual(rdataOf(deeper.answer), ['"wild"']);
    const nodata = await dig(dns, ['x.wild.example.test', 'MX']);
    assert.equal(nodata.status, 'NOERROR');
    assert.equal(nodata.answer.length, 0);
    assert.equal(nodata.authority[0][3], 'SOA');
  });

  it('refers queries at and below a delegation with NS and glue, without AA', async () => {
    for (const name of ['sub.example.test', 'host.sub.example.test']) {
      const result = await dig(dns, ['+norec', name, 'A']);
      assert.equal(result.status, 'NOERROR');
      assert.ok(!result.flags.includes('aa'), name);
      assert.equal(result.answer.length, 0);
      assert.deepEqual(rdataOf(result.authority).sort(), ['ns.other.test.', 'ns.sub.example.test.']);
      assert.deepEqual(result.additional.map((record) => `${record[0]} ${record[4]}`), ['ns.sub.example.test. 192.0.2.53']);
    }
  });

  it('echoes the query name in its case and matches case-insensitively', async () => {
    const result = await dig(dns, ['WwW.ExAmPlE.TeSt', 'A']);
    assert.match(result.raw, /;WwW\.ExAmPlE\.TeSt\.\s+IN\s+A/);
    assert.equal(result.answer[0][0], 'WwW.ExAmPlE.TeSt.');
    const kdig = await dig(dns, ['NOPE.EXAMPLE.TEST', 'A'], 'kdig');
    assert.equal(kdig.status, 'NXDOMAIN');
  });

  it('serves several queries on one TCP connection (kdig +keepopen)', async () => {
    const result = await dig(dns, ['+tcp', '+keepopen', 'www.example.test', 'A', 'www.example.test', 'AAAA', 'example.test', 'MX'], 'kdig');
    assert.equal((result.raw.match(/status: NOERROR/g) ?? []).length, 3);
    assert.match(result.raw, /192\.0\.2\.1/);
    assert.match(result.raw, /2001:db8::1/);
    assert.match(result.raw, /\(TCP\)/);
  });

  it('advertises EDNS0 and truncates an answer that does not fit, which dig retries over TCP', async () => {
    const edns = await dig(dns, ['www.example.test', 'A']);
    assert.match(edns.raw, /EDNS: version: 0, flags:; udp: 1232/);
    const noEdns = await dig(dns, ['+noedns', '+ignore', 'big.shop.test', 'TXT']);
    assert.ok(noEdns.flags.includes('tc'));
    assert.equal(noEdns.answer.length, 0);
    const retried = await dig(dns, ['+noedns', 'big.shop.test', 'TXT']);
    assert.match(retried.raw, /Truncated, retrying in TCP mode/);
    assert.equal(retried.answer[0].length, 8);
    const fits = await dig(dns, ['+bufsize=1232', '+ignore', 'big.shop.test', 'TXT']);
    assert.ok(!fits.flags.includes('tc'));
    const badVersion = await dig(dns, ['+edns=1', '+noednsnegotiation', 'www.example.test'], 'dig');
    assert.equal(badVersion.status, 'BADVERS');
  });

  it('answers ANY minimally (RFC 8482) and refuses zone transfers', async () => {
    const any = await dig(dns, ['example.test', 'ANY']);
    assert.deepEqual(any.answer.map((record) => record[3]), ['HINFO']);
    assert.deepEqual(rdataOf(any.answer), ['"RFC8482" ""']);
    const axfr = await dig(dns, ['example.test', 'AXFR']);
    assert.match(axfr.raw, /Transfer failed/);
    assert.doesNotMatch(axfr.raw, /192\.0\.2\.1/);
  });

  it('refuses names outside its zones when the client may not recurse', async () => {
    const result = await dig(dns, ['www.elsewhere.test', 'A']);
    assert.equal(result.status, 'REFUSED');
    const chaos = await dig(dns, ['-c', 'CH', 'version.bind', 'TXT']);
    assert.equal(chaos.status, 'NOTIMP');
  });
});

describe('dns on IPv6 loopback', () => {
  let dns: RunningDns;
  before(async () => {
    dns = await startDns(`
dns:
  listen: ["udp://[::1]:0", "tcp://[::1]:0"]
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records: [ { name: www, type: AAAA, value: "2001:db8::5" } ]
`);
  });
  after(() => dns?.stop());

  it('answers over UDP and TCP on ::1, both on one port', async () => {
    const addresses = dns.server.addresses();
    assert.equal(addresses[0].port, addresses[1].port);
    assert.deepEqual((await dig(dns, ['www.example.test', 'AAAA'])).answer.map((record) => record[4]), ['2001:db8::5']);
    assert.deepEqual((await dig(dns, ['+tcp', 'www.example.test', 'AAAA'], 'kdig')).answer.map((record) => record[4]), ['2001:db8::5']);
  });
});
