import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChallengeBoard, dnsKeyOf } from './challenge-board.ts';

test('the board answers exactly the last set published, in the forms src/l7 and src/dns read', () => {
  const board = new ChallengeBoard();
  assert.equal(board.httpSource.size, 0);
  assert.equal(board.dnsSource.size, 0);
  board.replace({ http: [['tok', 'tok.thumb']], dns: [['_acme-challenge.Example.test.', 'v1'], ['_acme-challenge.example.test', 'v2']] });
  assert.equal(board.httpSource.keyAuthorization('tok'), 'tok.thumb');
  assert.equal(board.httpSource.keyAuthorization('other'), undefined);
  assert.equal(dnsKeyOf('_acme-challenge.Example.test.'), '\x0f_acme-challenge\x07example\x04test');
  const values = board.dnsSource.txt(dnsKeyOf('_acme-challenge.example.test'));
  assert.deepEqual(values?.map((rdata) => [rdata[0], rdata.subarray(1).toString()]), [[2, 'v1'], [2, 'v2']]);
  board.replace({ http: [], dns: [] });
  assert.equal(board.httpSource.size, 0);
  assert.equal(board.dnsSource.txt(dnsKeyOf('_acme-challenge.example.test')), undefined);
});
