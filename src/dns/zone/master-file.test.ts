// RFC 1035 master files: the syntax supported and the file:line errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RRType } from '../wire/constants.ts';
import { nameToWire, wireToText } from '../wire/name.ts';
import { MasterFileError, parseMasterFile } from './master-file.ts';

const origin = nameToWire('example.test.');

describe('parseMasterFile', () => {
  it('handles $ORIGIN, $TTL, @, relative names, omitted owner/TTL/class and parentheses', () => {
    const records = parseMasterFile(
      `$TTL 1h
@ IN SOA ns1 hostmaster.example.test. (
      2024010101 ; serial
      1h 10m 1w 5m )
  NS ns1           ; owner inherited from the line above
www 300 A 192.0.2.1
    IN 60 AAAA 2001:db8::1
$ORIGIN sub.example.test.
host A 192.0.2.2
txt TXT "a \\"quoted\\" string" plain \\065
`,
      'z.zone',
      origin,
      999,
    );
    const summary = records.map((record) => `${wireToText(record.owner)} ${record.ttl} ${record.type}`);
    assert.deepEqual(summary, [
      'example.test. 3600 6',
      'example.test. 3600 2',
      'www.example.test. 300 1',
      'www.example.test. 60 28',
      'host.sub.example.test. 3600 1',
      'txt.sub.example.test. 3600 16',
    ]);
    const soa = records[0].rdata;
    assert.equal(soa.readUInt32BE(soa.length - 4), 300);
    const txt = records[5].rdata;
    assert.equal(txt.toString('latin1'), '\x11a "quoted" string\x05plain\x01A');
    assert.equal(records[5].source, 'z.zone:10');
  });

  it('uses the default TTL until $TTL and keeps escapes in names', () => {
    const records = parseMasterFile('a\\.b A 192.0.2.1\n', 'z.zone', origin, 42);
    assert.equal(records[0].ttl, 42);
    assert.equal(wireToText(records[0].owner), 'a\\.b.example.test.');
    assert.equal(records[0].type, RRType.A);
  });

  it('reads the generic form of unknown types (RFC 3597)', () => {
    const records = parseMasterFile('x TYPE65000 \\# 3 abcdef\n', 'z.zone', origin, 60);
    assert.equal(records[0].type, 65000);
    assert.deepEqual([...records[0].rdata], [0xab, 0xcd, 0xef]);
  });

  it('reports errors with file:line', () => {
    const cases: [string, RegExp][] = [
      ['www A 192.0.2.1\nbad A 300.1.1.1\n', /^z\.zone:2: expected an IPv4 address/],
      ['www A 192.0.2.1\n\n\nx BOGUS 1\n', /^z\.zone:4: unknown record type "BOGUS"/],
      ['$INCLUDE other.zone\n', /^z\.zone:1: unsupported directive/],
      ['@ SOA ns1 h ( 1 2 3 4\n 5\n', /^z\.zone:1: unbalanced \(/],
      ['x TXT "open\n', /^z\.zone:1: unterminated quoted string/],
      [`${'a'.repeat(64)} A 192.0.2.1\n`, /^z\.zone:1: label longer than 63/],
      ['  A 192.0.2.1\n', /^z\.zone:1: expected an owner name/],
      ['x CH A 192.0.2.1\n', /^z\.zone:1: expected class IN/],
      ['x MX mail\n', /^z\.zone:1: expected 2 fields for MX/],
    ];
    for (const [text, pattern] of cases) {
      assert.throws(() => parseMasterFile(text, 'z.zone', origin, 60), (err: unknown) => err instanceof MasterFileError && pattern.test(err.message), text);
    }
  });
});
