import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SecureContext } from 'node:tls';
import { SniTable, type SniEntry } from './sni.ts';

const entry = (name: string, hosts: string[]): SniEntry => ({ name, hosts, context: { name } as unknown as SecureContext });

describe('SniTable', () => {
  const a = entry('a', ['a.example.test', 'example.test']);
  const wild = entry('wild', ['*.example.test']);
  const other = entry('other', ['a.example.test', '*.other.test']);
  const fallback = entry('fallback', []);
  const table = new SniTable([a, wild, other], fallback);

  it('prefers an exact name, then a one-label wildcard, then the default', () => {
    assert.equal(table.lookup('a.example.test').name, 'a');
    assert.equal(table.lookup('b.example.test').name, 'wild');
    assert.equal(table.lookup('x.other.test').name, 'other');
    assert.equal(table.lookup('a.b.example.test').name, 'fallback', 'one label only');
    assert.equal(table.lookup('example.test').name, 'a');
    assert.equal(table.lookup('unknown.test').name, 'fallback');
    assert.equal(table.lookup(undefined).name, 'fallback');
    assert.equal(table.lookup('').name, 'fallback');
  });

  it('is case-insensitive, ignores a trailing dot, and the first entry claiming a name wins', () => {
    assert.equal(table.lookup('A.Example.TEST.').name, 'a');
  });
});
