import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HpackDecoder, HpackEncoder, HpackError } from './hpack.ts';

function decodeAll(decoder: HpackDecoder, hex: string): string[] {
  const block = Buffer.from(hex, 'hex');
  const out: string[] = [];
  decoder.decode(block, 0, block.length, out);
  return out;
}

const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';

test('RFC 7541 C.3 and C.4: requests on one connection, with and without Huffman, through the dynamic table', () => {
  for (const blocks of [
    ['828684410f7777772e6578616d706c652e636f6d', '828684be58086e6f2d6361636865', '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'],
    ['828684418cf1e3c2e5f23a6ba0ab90f4ff', '828684be5886a8eb10649cbf', '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'],
  ]) {
    const decoder = new HpackDecoder();
    assert.deepEqual(decodeAll(decoder, blocks[0]), [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com']);
    assert.deepEqual(decodeAll(decoder, blocks[1]), [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com', 'cache-control', 'no-cache']);
    assert.deepEqual(decodeAll(decoder, blocks[2]), [':method', 'GET', ':scheme', 'https', ':path', '/index.html', ':authority', 'www.example.com', 'custom-key', 'custom-value']);
  }
});

test('RFC 7541 C.5: eviction when the table (256 bytes) is full', () => {
  const decoder = new HpackDecoder(256);
  const block = (hex: string) => Buffer.from(hex, 'hex');
  const first = block('4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d');
  // the decoder was made with settings 256: the client lowers its table to that with an update first
  const out: string[] = [];
  decoder.decode(Buffer.concat([Buffer.from([0x3f, 0xe1, 0x01]), first]), 0, first.length + 3, out);
  assert.deepEqual(out, [':status', '302', 'cache-control', 'private', 'date', date1, 'location', 'https://www.example.com']);
  assert.deepEqual(decodeAll(decoder, '4803333037c1c0bf'), [':status', '307', 'cache-control', 'private', 'date', date1, 'location', 'https://www.example.com']);
  assert.deepEqual(
    decodeAll(decoder, '88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31'),
    [':status', '200', 'cache-control', 'private', 'date', 'Mon, 21 Oct 2013 20:13:22 GMT', 'location', 'https://www.example.com', 'content-encoding', 'gzip', 'set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
  );
  // :status 307 was evicted by now: index 62 + 4 is past the table
  assert.throws(() => decodeAll(decoder, 'c2c2c2c2c2'), HpackError);
});

test('refuses index 0, indexes past the table, truncated strings, size updates above the settings or after a field', () => {
  for (const hex of ['80', 'ff00', 'be', '4005616263', '3fe21f', '823f01', '40ff8080808080808001']) {
    assert.throws(() => decodeAll(new HpackDecoder(), hex), HpackError, hex);
  }
});

test('the encoder output decodes back, with a table size update after the client lowered its table', () => {
  const encoder = new HpackEncoder();
  const out = Buffer.alloc(256);
  const fields = ['content-type', 'text/plain', 'x-custom', 'yes', 'set-cookie', 'a=1', 'set-cookie', 'b=2'];
  let end = encoder.encode(200, fields, out, 0);
  assert.deepEqual(decodeAll(new HpackDecoder(), out.subarray(0, end).toString('hex')), [':status', '200', ...fields]);
  end = encoder.encode(599, [], out, 0);
  assert.deepEqual(decodeAll(new HpackDecoder(), out.subarray(0, end).toString('hex')), [':status', '599']);
  encoder.peerTableSize(0);
  end = encoder.encode(204, [], out, 0);
  assert.equal(out[0], 0x20);
  assert.equal(encoder.encode(200, ['x', 'y'.repeat(300)], out, 0), -1);
});
