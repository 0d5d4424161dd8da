import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError, numberOption, parseCommandArgs, type OptionSpec } from './command.ts';

test('numberOption returns the number, the fallback, or throws a UsageError naming the range', () => {
  assert.equal(numberOption(undefined, '-c', 4, 1, 10), 4);
  assert.equal(numberOption('0.5', '-i', 1, 0, 10), 0.5);
  assert.throws(() => numberOption('x', '-c', 4, 1, 10), (err: unknown) => err instanceof UsageError && /-c expects a number from 1 to 10, got "x"/.test(err.message));
  assert.throws(() => numberOption('11', '-c', 4, 1, 10), UsageError);
});

test('parseCommandArgs reads an option table and turns unknown options into UsageErrors', () => {
  const options: OptionSpec[] = [
    { name: 'count', short: 'c', value: 'N', description: 'count' },
    { name: 'json', description: 'json' },
    { name: 'header', short: 'H', value: 'H', multiple: true, description: 'header' },
  ];
  const parsed = parseCommandArgs(['host', '-c', '3', '--json', '-H', 'a: 1', '-H', 'b: 2'], options);
  assert.equal(parsed.string('count'), '3');
  assert.equal(parsed.flag('json'), true);
  assert.deepEqual(parsed.list('header'), ['a: 1', 'b: 2']);
  assert.deepEqual(parsed.positionals, ['host']);
  assert.throws(() => parsed.string('bogus'), /not in the command's table/);
  assert.throws(() => parseCommandArgs(['--bogus'], options), (err: Error) => err instanceof UsageError && err.message === 'unknown option --bogus');
  assert.throws(() => parseCommandArgs(['-c'], options), (err: Error) => err instanceof UsageError && /^option '-c, --count <value>' argument missing/.test(err.message));
});
