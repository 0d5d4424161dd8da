import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AccessLine, encodeAscii } from './access-line.ts';

const built = (fill: (line: AccessLine) => void): string => {
  const line = new AccessLine(4096);
  fill(line);
  return line.text();
};

test('str writes the JSON literal of any string (plain ASCII byte by byte, the rest through JSON.stringify)', () => {
  for (const value of ['', '/a/b?c=d', 'say "hi"', 'back\\slash', 'tab\there', 'é/ü', '\u0000', '😀', '\u007f']) {
    assert.equal(built((line) => line.str(value)), JSON.stringify(value));
  }
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (value) => JSON.parse(built((line) => line.str(value))) === value));
});

test('int writes integers as JSON numbers; ms writes milliseconds with 3 decimals', () => {
  fc.assert(fc.property(fc.maxSafeNat(), (n) => built((line) => line.int(n)) === String(n)));
  assert.equal(built((line) => line.int(-3)), '-3');
  assert.equal(built((line) => line.int(1.5)), '1.5');
  assert.equal(built((line) => line.ms(10, 10)), '0.000');
  assert.equal(built((line) => line.ms(10, 10.0504)), '0.050');
  assert.equal(built((line) => line.ms(100, 1334.5678)), '1234.568');
  assert.equal(built((line) => line.ms(10, 5)), '0');
  fc.assert(fc.property(fc.double({ min: 0, max: 1e7, noNaN: true }), (d) => Math.abs(Number(built((line) => line.ms(0, d))) - Math.round(d * 1000) / 1000) < 1e-9));
});

test('a whole line parses as the JSON object it spells', () => {
  const text = built((line) => {
    line.bytes(encodeAscii('{"level":"info"'));
    line.bytes(encodeAscii(',"path":'));
    line.str('/ä"x');
    line.bytes(encodeAscii(',"status":'));
    line.int(200);
    line.bytes(encodeAscii(',"total_ms":'));
    line.ms(1, 3.25);
    line.bytes(encodeAscii('}\n'));
  });
  assert.deepEqual(JSON.parse(text), { level: 'info', path: '/ä"x', status: 200, total_ms: 2.25 });
  assert.ok(text.endsWith('}\n'));
});
