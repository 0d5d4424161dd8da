import assert from 'node:assert/strict';
import { test } from 'node:test';
import { huffmanCodes, huffmanDecode, huffmanEncode } from './huffman.ts';

test('the canonical codes rebuilt from the lengths match RFC 7541 Appendix B', () => {
  assert.equal(huffmanCodes[48], 0x0); // '0'
  assert.equal(huffmanCodes[97], 0x3); // 'a'
  assert.equal(huffmanCodes[32], 0x14); // ' '
  assert.equal(huffmanCodes[0], 0x1ff8);
  assert.equal(huffmanCodes[255], 0x3ffffee);
  assert.equal(huffmanCodes[256], 0x3fffffff); // EOS
});

test("decodes the RFC 7541 C.4 examples and refuses bad padding and EOS", () => {
  const cases: [string, string][] = [
    ['f1e3c2e5f23a6ba0ab90f4ff', 'www.example.com'],
    ['a8eb10649cbf', 'no-cache'],
    ['25a849e95ba97d7f', 'custom-key'],
    ['25a849e95bb8e8b4bf', 'custom-value'],
    ['6402', '302'],
    ['aec3771a4b', 'private'],
    ['d07abe941054d444a8200595040b8166e082a62d1bff', 'Mon, 21 Oct 2013 20:13:21 GMT'],
  ];
  for (const [hex, text] of cases) {
    const bytes = Buffer.from(hex, 'hex');
    assert.equal(huffmanDecode(bytes, 0, bytes.length), text);
    assert.deepEqual(huffmanEncode(text), bytes);
  }
  // padding of zeros is not a prefix of EOS
  assert.equal(huffmanDecode(Buffer.from([0x00]), 0, 1), null);
  // 8 bits or more of padding ('0' = 00000 then 11111111111)
  assert.equal(huffmanDecode(Buffer.from([0x07, 0xff]), 0, 2), null);
  // EOS itself (30 ones) inside the string
  assert.equal(huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4), null);
  assert.equal(huffmanDecode(Buffer.alloc(0), 0, 0), '');
});

test('every byte value survives encode then decode', () => {
  let text = '';
  for (let i = 0; i < 256; i++) text += String.fromCharCode(i);
  const bytes = huffmanEncode(text);
  assert.equal(huffmanDecode(bytes, 0, bytes.length), text);
});
