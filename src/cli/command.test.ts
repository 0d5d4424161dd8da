import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError, numberOption, parseCommandArgs } from './command.ts';

test('numberOption returns the number, the fallback, or throws a UsageError naming the range', () => {
  assert.equal(numberOption(undefined, '-c', 4, 1, 10), 4);
  assert.equal(numberOption('0.5', '-i', 1, 0, 10), 0.5);
  assert.throws(() => numberOption('x', '-c', 4, 1, 10), (err: unknown) => err instanceof UsageError && /-c expects a number from 1 to 10, got "x"/.test(err.message));
  assert.throws(() => numberOption('11', '-c', 4, 1, 10), UsageError);
});

test('parseCommandArgs turns unknown options into UsageErrors', () => {
  const { values, positionals } = parseCommandArgs(['host', '-c', '3'], { count: { type: 'string', short: 'c' } });
  assert.equal(values.count, '3');
  assert.deepEqual(positionals, ['host']);
  assert.throws(() => parseCommandArgs(['--bogus'], { count: { type: 'string', short: 'c' } }), UsageError);
});
