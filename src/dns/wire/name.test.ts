// Names: presentation ↔ wire, keys, and decompression that refuses loops and forward pointers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSubdomain, keyOf, nameToWire, readName, wireToText } from './name.ts';
import { MessageWriter } from './writer.ts';

describe('names', () => {
  it('converts presentation form with escapes and relative names', () => {
    const origin = nameToWire('Example.TEST.');
    assert.equal(wireToText(nameToWire('a\\.b', origin)), 'a\\.b.Example.TEST.');
    assert.deepEqual([...nameToWire('\\065.', origin)], [1, 65, 0]);
    assert.equal(keyOf(nameToWire('WWW.Example.test.')), '\x03www\x07example\x04test');
    assert.throws(() => nameToWire('a..b.'), /empty label/);
    assert.throws(() => nameToWire(`${'a'.repeat(64)}.`), /longer than 63/);
    assert.throws(() => nameToWire('relative'), /without an origin/);
  });

  it('tests suffixes at label boundaries only', () => {
    const key = keyOf(nameToWire('www.example.test.'));
    assert.ok(isSubdomain(key, keyOf(nameToWire('example.test.'))));
    assert.ok(isSubdomain(key, ''));
    assert.ok(!isSubdomain(keyOf(nameToWire('wwwexample.test.')), keyOf(nameToWire('example.test.'))));
  });

  it('decompresses backward pointers and refuses loops and forward pointers', () => {
    const writer = new MessageWriter();
    writer.header(0, 0, 0, 0, 0, 0);
    writer.name(nameToWire('example.test.'), true);
    const second = writer.offset;
    writer.name(nameToWire('www.example.test.'), true);
    const message = writer.finish();
    assert.equal(message.length, second + 6, 'www + pointer');
    assert.equal(wireToText(readName(message, second)!.wire), 'www.example.test.');
    const loop = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 12]);
    assert.equal(readName(loop, 12), undefined);
    const forward = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 14, 1, 97, 0]);
    assert.equal(readName(forward, 12), undefined);
    const mutual = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 97, 0xc0, 16, 1, 98, 0xc0, 12]);
    assert.equal(readName(mutual, 16), undefined);
  });
});
