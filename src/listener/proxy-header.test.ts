import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProxyHeader } from './proxy-header.ts';
import { proxyHeaderV1, proxyHeaderV2 } from '../l4/index.ts';

const ends4 = { sourceAddress: '192.0.2.7', sourcePort: 51234, destinationAddress: '10.0.0.1', destinationPort: 443 };
const ends6 = { sourceAddress: '2001:db8::7', sourcePort: 40000, destinationAddress: '2001:db8::1', destinationPort: 80 };

test('decodes what the encoder writes, v1 and v2, v4 and v6, and leaves the client bytes after it', () => {
  for (const encode of [proxyHeaderV1, proxyHeaderV2]) {
    for (const ends of [ends4, ends6]) {
      const header = encode(ends);
      const parsed = parseProxyHeader(Buffer.concat([header, Buffer.from('GET / HTTP/1.1\r\n')]));
      assert.deepEqual(parsed?.header, { length: header.length, source: { address: ends.sourceAddress, port: ends.sourcePort } });
    }
  }
});

test('v2 LOCAL, UNSPEC and v1 UNKNOWN name no client; TLVs after the addresses are skipped', () => {
  const local = proxyHeaderV2({ sourceAddress: 'x', sourcePort: 0, destinationAddress: 'y', destinationPort: 0 });
  assert.deepEqual(parseProxyHeader(local)?.header, { length: 16, source: undefined });
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))?.header, { length: 15, source: undefined });
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'))?.header?.source, undefined);
  const v4 = proxyHeaderV2(ends4);
  const tlv = Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]); // PP2_TYPE_NOOP, 3 bytes
  const withTlv = Buffer.concat([v4, tlv]);
  withTlv.writeUInt16BE(12 + tlv.length, 14);
  assert.deepEqual(parseProxyHeader(withTlv)?.header, { length: withTlv.length, source: { address: '192.0.2.7', port: 51234 } });
});

test('v4-mapped v6 sources read as dotted quads', () => {
  const header = proxyHeaderV2({ ...ends6, sourceAddress: '::ffff:c000:207' });
  assert.equal(parseProxyHeader(header)?.header?.source?.address, '192.0.2.7');
});

test('incomplete headers ask for more bytes, at every split point', () => {
  for (const header of [proxyHeaderV1(ends4), proxyHeaderV2(ends6)]) {
    for (let n = 1; n < header.length; n++) assert.equal(parseProxyHeader(header.subarray(0, n)), undefined, `split at ${n}`);
  }
});

test('malformed headers are errors, as early as the bytes show it', () => {
  const bad = [
    'GET / HTTP/1.1\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n',
    'PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n',
    'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n',
    'PROXY TCP4 ::1 5.6.7.8 1 2\r\n',
    'PROXY TCP6 1.2.3.4 ::1 1 2\r\n',
    'PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n',
    `PROXY TCP4 ${'1'.repeat(120)}`,
    'PROXZ',
    'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n',
  ];
  for (const text of bad) assert.ok(parseProxyHeader(Buffer.from(text, 'latin1'))?.error, JSON.stringify(text));
  const v2 = proxyHeaderV2(ends4);
  const mutate = (at: number, value: number): Buffer => {
    const copy = Buffer.from(v2);
    copy[at] = value;
    return copy;
  };
  assert.ok(parseProxyHeader(mutate(3, 0x0b))?.error, 'signature');
  assert.ok(parseProxyHeader(mutate(12, 0x11))?.error, 'version 1');
  assert.ok(parseProxyHeader(mutate(12, 0x22))?.error, 'command 2');
  assert.ok(parseProxyHeader(mutate(13, 0x12))?.error, 'udp4');
  assert.ok(parseProxyHeader(mutate(13, 0x21))?.error, 'tcp6 family with tcp4 length');
  const short = Buffer.from(v2);
  short.writeUInt16BE(8, 14);
  assert.ok(parseProxyHeader(short)?.error, 'address block too short');
  const huge = Buffer.from(v2);
  huge.writeUInt16BE(60_000, 14);
  assert.ok(parseProxyHeader(huge)?.error, 'longer than the bound');
});
