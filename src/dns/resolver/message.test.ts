// Decoding upstream responses (untrusted input): real answers round-trip; random and mutated bytes never
// throw, and names never loop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Flag, RRClass, RRType } from '../wire/constants.ts';
import { nameToWire, wireToText } from '../wire/name.ts';
import { MessageWriter } from '../wire/writer.ts';
import { decodeMessage } from './message.ts';

function response(): Buffer {
  const writer = new MessageWriter();
  writer.header(77, Flag.QR | Flag.AA, 1, 2, 1, 1);
  writer.question(nameToWire('www.example.test.'), RRType.A, RRClass.IN);
  writer.record({ owner: nameToWire('www.example.test.'), type: RRType.CNAME, class: RRClass.IN, ttl: 60, rdata: nameToWire('lb.example.test.') });
  writer.record({ owner: nameToWire('lb.example.test.'), type: RRType.A, class: RRClass.IN, ttl: 30, rdata: Buffer.from([192, 0, 2, 1]) });
  const soa = Buffer.concat([nameToWire('ns.example.test.'), nameToWire('h.example.test.'), Buffer.alloc(20, 1)]);
  writer.record({ owner: nameToWire('example.test.'), type: RRType.SOA, class: RRClass.IN, ttl: 300, rdata: soa });
  writer.record({ owner: nameToWire('ns.example.test.'), type: RRType.MX, class: RRClass.IN, ttl: 300, rdata: Buffer.concat([Buffer.from([0, 10]), nameToWire('mail.example.test.')]) });
  return writer.finish();
}

describe('decodeMessage', () => {
  it('decodes a compressed response, decompressing names inside RDATA', () => {
    const decoded = decodeMessage(response())!;
    assert.equal(decoded.id, 77);
    assert.equal(wireToText(decoded.answer[0].rdata), 'lb.example.test.');
    assert.equal(decoded.answer[1].ttl, 30);
    assert.equal(wireToText(decoded.authority[0].rdata), 'ns.example.test.', 'the SOA mname');
    assert.equal(wireToText(decoded.additional[0].rdata.subarray(2)), 'mail.example.test.');
  });

  it('never throws on random or mutated input', () => {
    const base = response();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        decodeMessage(Buffer.from(bytes));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(), (flips, cut) => {
        const input = Buffer.from(base);
        for (const [at, value] of flips) input[at % input.length] = value;
        decodeMessage(input.subarray(0, cut % (input.length + 1)));
      }),
      { numRuns: 5000 },
    );
  });
});
