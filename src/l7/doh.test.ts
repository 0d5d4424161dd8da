// DNS over HTTPS request parsing and answer fields (doh.ts): ?dns= decoding and its refusals, the POST
// checks, and Cache-Control's max-age from the smallest TTL of real answers (dns-packet builds them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { dohAnswerFields, dohBodyStatus, dohGetMessage, dohPostStatus, minTtl } from './doh.ts';

const query = dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'www.example.test' }] });

test('GET: the dns parameter decodes from base64url (padding tolerated), anywhere in the query string', () => {
  const encoded = query.toString('base64url');
  assert.deepEqual(dohGetMessage(`/dns-query?dns=${encoded}`), query);
  assert.deepEqual(dohGetMessage(`/dns-query?ct=x&dns=${encoded}&other=1`), query);
  assert.deepEqual(dohGetMessage(`/dns-query?dns=${query.toString('base64')}`.replace(/\+/g, '-').replace(/\//g, '_')), query);
});

test('GET: missing, empty, not base64url, too short or too long is refused', () => {
  assert.equal(dohGetMessage('/dns-query'), 400);
  assert.equal(dohGetMessage('/dns-query?name=x'), 400);
  assert.equal(dohGetMessage('/dns-query?dns='), 400);
  assert.equal(dohGetMessage('/dns-query?dns=abc+def'), 400);
  assert.equal(dohGetMessage('/dns-query?dns=abc%2Fdef'), 400);
  assert.equal(dohGetMessage('/dns-query?dns=AAAA'), 400);
  assert.equal(dohGetMessage(`/dns-query?dns=${'A'.repeat(90_000)}`), 413);
});

test('POST: the media type must be application/dns-message (parameters and case ignored), at most 65535 bytes', () => {
  assert.equal(dohPostStatus('application/dns-message', 40), 0);
  assert.equal(dohPostStatus('Application/DNS-Message; charset=binary', 40), 0);
  assert.equal(dohPostStatus(undefined, 40), 415);
  assert.equal(dohPostStatus('application/octet-stream', 40), 415);
  assert.equal(dohPostStatus('application/dns-message', 65_536), 413);
  assert.equal(dohPostStatus('application/dns-message', -1), 0, 'an HTTP/2 body of unknown length is counted as it arrives');
  assert.equal(dohBodyStatus(11), 400);
  assert.equal(dohBodyStatus(12), 0);
});

test('max-age is the smallest TTL over answer, authority and additional, never the OPT record; 0 without records', () => {
  const answer = dnsPacket.encode({
    type: 'response',
    id: 0,
    questions: [{ type: 'A', name: 'www.example.test' }],
    answers: [
      { type: 'A', name: 'www.example.test', ttl: 300, data: '192.0.2.1' },
      { type: 'A', name: 'www.example.test', ttl: 120, data: '192.0.2.2' },
    ],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
  assert.equal(minTtl(answer), 120);
  const negative = dnsPacket.encode({
    type: 'response',
    id: 0,
    questions: [{ type: 'A', name: 'nope.example.test' }],
    authorities: [{ type: 'SOA', name: 'example.test', ttl: 60, data: { mname: 'ns1.example.test', rname: 'h.example.test', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 } }],
  });
  assert.equal(minTtl(negative), 60);
  assert.equal(minTtl(dnsPacket.encode({ type: 'response', id: 0, flags: 2, questions: [{ type: 'A', name: 'x.test' }] })), 0);
  assert.equal(minTtl(answer.subarray(0, answer.length - 20)), 0, 'a truncated message gives 0, not a guess');
  assert.deepEqual(dohAnswerFields(answer, 'Mon, 07 Dec 2026 00:00:00 GMT'), ['date', 'Mon, 07 Dec 2026 00:00:00 GMT', 'content-type', 'application/dns-message', 'cache-control', 'max-age=120', 'content-length', String(answer.length)]);
});
