// The strict query parse: what it accepts, and the verdict for each kind of bad input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queryBytes } from '../../../test/support/dns-queries.ts';
import { parseQuery } from './query.ts';
import { Flag, Rcode } from './constants.ts';

describe('parseQuery', () => {
  it('parses header, question and OPT', () => {
    const query = parseQuery(queryBytes('WWW.Example.test.', 28, { edns: 4096 }));
    assert.ok(typeof query === 'object');
    assert.equal(query.id, 0x1234);
    assert.equal(query.qtype, 28);
    assert.equal(query.key, '\x03www\x07example\x04test');
    assert.equal(query.ednsSize, 4096);
    assert.equal(query.ednsVersion, 0);
  });

  it('drops what is not a query and what is too short to answer', () => {
    assert.equal(parseQuery(Buffer.alloc(5)), 'drop');
    assert.equal(parseQuery(queryBytes('a.test.', 1, { flags: Flag.QR })), 'drop');
  });

  it('answers NOTIMP for other opcodes', () => {
    assert.equal(parseQuery(queryBytes('a.test.', 1, { flags: 5 << 11 })), Rcode.NOTIMP); // UPDATE
  });

  it('answers FORMERR for malformed questions', () => {
    const good = queryBytes('a.test.');
    assert.equal(parseQuery(good.subarray(0, good.length - 1)), Rcode.FORMERR, 'truncated');
    assert.equal(parseQuery(Buffer.concat([good, Buffer.from([0])])), Rcode.FORMERR, 'trailing byte');
    const twoQuestions = Buffer.from(good);
    twoQuestions[5] = 2;
    assert.equal(parseQuery(twoQuestions), Rcode.FORMERR, 'qdcount 2');
    const answers = Buffer.from(good);
    answers[7] = 1;
    assert.equal(parseQuery(answers), Rcode.FORMERR, 'ancount in a query');
    const longLabel = Buffer.concat([good.subarray(0, 12), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])]);
    assert.equal(parseQuery(longLabel), Rcode.FORMERR, 'label of 64');
    const labels: number[] = [];
    for (let i = 0; i < 5; i++) labels.push(63, ...Buffer.alloc(63, 0x61));
    const longName = Buffer.concat([good.subarray(0, 12), Buffer.from(labels), Buffer.from([0, 0, 1, 0, 1])]);
    assert.equal(parseQuery(longName), Rcode.FORMERR, 'name over 255');
    const pointer = Buffer.concat([good.subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    assert.equal(parseQuery(pointer), Rcode.FORMERR, 'pointer loop in the question');
    const twoOpts = queryBytes('a.test.', 1, { edns: 1232 });
    const doubled = Buffer.concat([twoOpts, twoOpts.subarray(twoOpts.length - 11)]);
    doubled[11] = 2;
    assert.equal(parseQuery(doubled), Rcode.FORMERR, 'two OPT records');
  });
});
