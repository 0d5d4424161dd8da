import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowTable } from './flow-table.ts';

interface TestFlow {
  name: string;
  lastSeen: number;
}

test('the front of the table is the least recently used flow', () => {
  const table = new FlowTable<TestFlow>();
  const a = { name: 'a', lastSeen: 0 };
  const b = { name: 'b', lastSeen: 1 };
  table.add('a', a);
  table.add('b', b);
  assert.equal(table.oldest()?.[1], a);
  table.touch('a', a, 2);
  assert.equal(table.oldest()?.[1], b);
  assert.equal(a.lastSeen, 2);
});

test('takeIdle takes the flows idle since before the cutoff and stops at the first active one', () => {
  const table = new FlowTable<TestFlow>();
  const flows = [0, 1, 2, 3].map((index) => ({ name: String(index), lastSeen: index * 10 }));
  for (const flow of flows) table.add(flow.name, flow);
  table.touch('0', flows[0], 40);
  assert.deepEqual(
    table.takeIdle(25).map((flow) => flow.name),
    ['1', '2'],
  );
  assert.equal(table.size, 2);
  assert.equal(table.get('1'), undefined);
});

test('delete leaves a successor under the same key alone', () => {
  const table = new FlowTable<TestFlow>();
  const old = { name: 'old', lastSeen: 0 };
  const successor = { name: 'new', lastSeen: 1 };
  table.add('k', old);
  table.delete('k', old);
  table.add('k', successor);
  table.delete('k', old);
  assert.equal(table.get('k'), successor);
});
