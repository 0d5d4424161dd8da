import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessLine } from './access-line.ts';
import { AccessTimes, accessLineRewriter, buildCombined, buildText, clfTime, formatOfHook, type AccessFields } from './access-formats.ts';

const fields = (over: Partial<AccessFields> = {}): AccessFields => ({
  client: '203.0.113.9', method: 'GET', host: 'api.example.test', path: '/users/7', status: 200, bytesOut: 916,
  route: 'api', pool: 'users', backend: '127.0.0.1:3001', protocol: '', minor: 1, attempts: 1, reason: '', headers: null, ...over,
});
const at = Date.UTC(2026, 11, 7, 11, 24, 53, 554);

test('plain escapes quotes, backslashes, control and non-ASCII bytes as \\xHH (nginx)', () => {
  const line = new AccessLine(256);
  line.plain('a "b" \\ \t é 😀');
  assert.equal(line.text(), 'a \\x22b\\x22 \\x5c \\x09 \\xc3\\xa9 \\xf0\\x9f\\x98\\x80');
  // request strings hold wire bytes one per character (latin1): é sent as c3 a9 is logged as those two bytes
  const wire = new AccessLine(256);
  wire.plain(Buffer.from('é', 'utf8').toString('latin1') + '\xff', true);
  assert.equal(wire.text(), '\\xc3\\xa9\\xff');
});

test('combined and text lines from the byte builders', () => {
  const times = new AccessTimes();
  assert.equal(clfTime(at), '[07/Dec/2026:11:24:53 +0000]');
  const combined = new AccessLine(1024);
  buildCombined(combined, fields({ minor: 0 }), times.clf(at), 'http://ref.test/', undefined);
  assert.equal(combined.text(), '203.0.113.9 - - [07/Dec/2026:11:24:53 +0000] "GET /users/7 HTTP/1.0" 200 916 "http://ref.test/" "-"\n');
  const text = new AccessLine(1024);
  buildText(text, fields({ protocol: 'h2', attempts: 2 }), times.iso(at), 10, 11.4706);
  assert.equal(text.text(), '2026-12-07T11:24:53.554Z 203.0.113.9 GET api.example.test/users/7 200 916B 1.471ms route=api pool=users backend=127.0.0.1:3001 h2 attempts=2\n');
});

test('the streamWrite hook rewrites lines that took pino’s path (giant lines, L4) into the same format', () => {
  assert.equal(accessLineRewriter('json'), undefined);
  const text = accessLineRewriter('text')!;
  const combined = accessLineRewriter('combined')!;
  assert.equal(formatOfHook(text), 'text');
  assert.equal(formatOfHook(combined), 'combined');
  assert.equal(formatOfHook(undefined), 'json');
  const http = JSON.stringify({ level: 'info', time: new Date(at).toISOString(), client: '203.0.113.9', method: 'GET', host: 'a.test', path: '/x', status: 404, bytes_out: 12, route: 'r', total_ms: 0.5 }) + '\n';
  assert.equal(text(http), '2026-12-07T11:24:53.554Z 203.0.113.9 GET a.test/x 404 12B 0.500ms route=r\n');
  assert.equal(combined(http), '203.0.113.9 - - [07/Dec/2026:11:24:53 +0000] "GET /x HTTP/1.1" 404 12 "-" "-"\n');
  const tcp = JSON.stringify({ time: new Date(at).toISOString(), listener: 'db', client: '10.0.0.1', pool: 'pg', backend: '10.0.0.2:5432', outcome: 'closed', bytes_in: 10, bytes_out: 20, total_ms: 3 });
  assert.equal(text(tcp), '2026-12-07T11:24:53.554Z 10.0.0.1 TCP db - 20B 3.000ms pool=pg backend=10.0.0.2:5432\n');
});
