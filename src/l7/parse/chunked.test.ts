import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedDecoder } from './chunked.ts';

function decodeAll(text: string, split = 0): { end: number; data: string; done: boolean } {
  const buf = Buffer.from(text, 'latin1');
  const decoder = new ChunkedDecoder();
  let data = '';
  const sink = { chunkData: (b: Buffer, s: number, e: number) => (data += b.toString('latin1', s, e)) };
  if (split === 0) {
    const end = decoder.decode(buf, 0, buf.length, sink);
    return { end, data, done: decoder.done };
  }
  let offset = 0;
  let end = 0;
  while (offset < buf.length) {
    const stop = Math.min(buf.length, offset + split);
    end = decoder.decode(buf, offset, stop, sink);
    if (end < 0 || decoder.done) break;
    offset = stop;
  }
  return { end, data, done: decoder.done };
}

test('decodes chunks, extensions and trailers, in one piece and byte by byte', () => {
  const text = '5\r\nhello\r\n6;ext=1;q="a b"\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\nNEXT';
  for (const split of [0, 1, 3]) {
    const r = decodeAll(text, split);
    assert.equal(r.data, 'hello world');
    assert.equal(r.done, true);
    if (split === 0) assert.equal(r.end, text.length - 4);
  }
  assert.equal(decodeAll('A\r\n0123456789\r\n0\r\n\r\n').data, '0123456789');
});

test('refuses invalid chunk framing', () => {
  for (const text of ['x\r\n', '5\nhello\r\n', '5\r\nhelloX\r\n', '-1\r\n', '\r\n', '5 \r\nhello\r\n', '1;\x01\r\nx\r\n', 'fffffffffffffff\r\n', '0\r\nbad trailer\r\n\r\n', '0\r\n\n']) {
    assert.equal(decodeAll(text).end, -1, JSON.stringify(text));
  }
});

test('refuses trailers that frame, route or control the connection, whole or split byte by byte', () => {
  for (const name of ['Content-Length', 'transfer-encoding', 'Host', 'Connection', 'TE', 'Trailer', 'Keep-Alive', 'Upgrade', 'Expect', 'Proxy-Authorization-With-A-Long-Name']) {
    const text = `3\r\nabc\r\n0\r\nX-Fine: 1\r\n${name}: 5\r\n\r\n`;
    for (const split of [0, 1]) assert.equal(decodeAll(text, split).end, -1, `${name} split ${split}`);
  }
  // names that only start like a forbidden one, and ordinary trailers, pass
  for (const name of ['Content-Length-Extra', 'Hosts', 'X-Content-Length', 'Server-Timing', 'Digest']) {
    assert.equal(decodeAll(`3\r\nabc\r\n0\r\n${name}: 5\r\n\r\n`, 1).done, true, name);
  }
});
