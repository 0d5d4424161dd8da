// YAML syntax errors are reported at the token that broke the structure (never at a blank line or the
// end of the file), naming where the block or the unclosed string/bracket began.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from './index.ts';

function errorOf(text: string): string {
  try {
    parseConfigText(text, 'edge.yaml', '/tmp');
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('accepted');
}

test('a misaligned key is reported on its own line with where its block began, not on the blank line above', () => {
  const message = errorOf('pools:\n  users:\n    backends: [ { address: 127.0.0.1:1 } ]\n\n   orders:\n    backends: [ { address: 127.0.0.1:2 } ]\n');
  assert.match(message, /^edge\.yaml:5:4: yaml: All mapping items must start at the same column \(this item is at column 4; the first item of its block, line 2, is at column 3\)$/);
});

test('an unclosed string or bracket is reported where it opens', () => {
  assert.match(errorOf('log:\n  access_log: "stdout\n  level: info\n\n\nworkers: 1\n'), /^edge\.yaml:2:15: yaml: Missing closing "quote \(the string opened with " here is not closed; the parser noticed at the end of the file\)$/);
  assert.match(errorOf('log: { level: info\nworkers: 1\n'), /^edge\.yaml:1:6: yaml: .*\(the \{ opened here is not closed; the parser noticed at line 2\)/m);
});

test('one broken line is one message, not one per following token', () => {
  const message = errorOf(' workers: 1\nlog:\n  level: info\n  access_log: stdout\nshutdown_timeout: 1s\ndata_dir: ./x\n');
  const lines = message.split('\n').map((line) => /^edge\.yaml:(\d+):/.exec(line)?.[1]);
  assert.equal(new Set(lines).size, lines.length, message);
});

test('a tab used as indentation is reported at the tab; a repeated key names itself and where it first was', () => {
  assert.match(errorOf('pools:\n  p:\n\tbalance: round_robin\n'), /^edge\.yaml:3:1: yaml: Tabs are not allowed as indentation \(indent with spaces\)$/);
  assert.match(errorOf('pools:\n  p:\n    backends: []\n  p:\n    backends: []\n'), /^edge\.yaml:4:3: yaml: Map keys must be unique \(key p is already at line 2\)$/);
  assert.match(errorOf('log: {level: info, level: debug}\n'), /^edge\.yaml:1:20: yaml: Map keys must be unique \(key level\)$/);
});
