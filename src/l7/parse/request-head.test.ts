import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestHead, parseRequestHead, BODY_NONE, BODY_LENGTH, BODY_CHUNKED, H_HOST, H_CONNECTION, H_REQUEST_ID } from './request-head.ts';
import { findHeadEnd } from './chars.ts';

function parse(text: string, requestId = 'x-request-id'): { status: number; head: RequestHead } {
  const raw = Buffer.from(text, 'latin1');
  const head = new RequestHead();
  return { status: parseRequestHead(raw, raw.length, head, requestId), head };
}

test('parses a simple GET', () => {
  const { status, head } = parse('GET /a/b?c=d HTTP/1.1\r\nHost: Example.TEST:8080\r\nX-Request-Id: abc\r\n\r\n');
  assert.equal(status, 0);
  assert.equal(head.method, 'GET');
  assert.equal(head.target, '/a/b?c=d');
  assert.equal(head.path, '/a/b');
  assert.equal(head.authority, 'Example.TEST:8080');
  assert.equal(head.hostname, 'example.test');
  assert.equal(head.minor, 1);
  assert.equal(head.keepAlive, true);
  assert.equal(head.bodyKind, BODY_NONE);
  assert.equal(head.headerCount, 2);
  assert.equal(head.kinds[0], H_HOST);
  assert.equal(head.kinds[1], H_REQUEST_ID);
  assert.equal(head.header('x-request-id'), 'abc');
});

test('framing: content-length, chunked, keep-alive and upgrade flags', () => {
  assert.equal(parse('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n').head.bodyKind, BODY_LENGTH);
  assert.equal(parse('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n').head.contentLength, 5);
  assert.equal(parse('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n').head.bodyKind, BODY_CHUNKED);
  assert.equal(parse('GET / HTTP/1.0\r\n\r\n').head.keepAlive, false);
  assert.equal(parse('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').head.keepAlive, true);
  assert.equal(parse('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n').head.keepAlive, false);
  const upgrade = parse('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, X-Foo\r\nUpgrade: websocket\r\n\r\n').head;
  assert.equal(upgrade.upgrade, true);
  assert.deepEqual(upgrade.connectionTokens, ['x-foo']);
  assert.equal(upgrade.kinds[1], H_CONNECTION);
  assert.equal(parse('GET / HTTP/1.0\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n').head.upgrade, false, 'HTTP/1.0 Upgrade is ignored');
  assert.equal(parse('PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n').head.expectContinue, true);
});

test('absolute-form and asterisk-form targets', () => {
  const abs = parse('GET http://Other.test:81/p?q HTTP/1.1\r\nHost: ignored\r\n\r\n').head;
  assert.equal(abs.absoluteForm, true);
  assert.equal(abs.authority, 'Other.test:81');
  assert.equal(abs.hostname, 'other.test');
  assert.equal(abs.target, '/p?q');
  assert.equal(parse('GET http://x.test HTTP/1.1\r\nHost: x.test\r\n\r\n').head.target, '/');
  assert.equal(parse('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n').status, 0);
  assert.equal(parse('GET * HTTP/1.1\r\nHost: a\r\n\r\n').status, 400);
});

const bad: [string, string, number][] = [
  ['lower-case-free junk method', '@GET / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['two spaces', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['no version', 'GET /\r\nHost: a\r\n\r\n', 400],
  ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
  ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: a\r\n\r\n', 505],
  ['lower-case http', 'GET / http/1.1\r\nHost: a\r\n\r\n', 400],
  ['control char in target', 'GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['fragment in target', 'GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['relative target', 'GET a/b HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['userinfo in absolute-form', 'GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n', 400],
  ['missing host on 1.1', 'GET / HTTP/1.1\r\n\r\n', 400],
  ['two hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['space in host', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
  ['space before colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
  ['empty header name', 'GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n', 400],
  ['invalid name char', 'GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n', 400],
  ['control char in value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n', 400],
  ['DEL in value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n', 400],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n', 400],
  ['bare CR', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', 400],
  ['CL and TE', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
  ['differing CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', 400],
  ['differing CL list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n', 400],
  ['signed CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n', 400],
  ['hex CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n', 400],
  ['empty CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n', 400],
  ['huge CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n', 400],
  ['TE not ending in chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n', 400],
  ['TE chunked twice', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
  ['TE gzip', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
  ['TE junk', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n', 501],
  ['TE on 1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
  ['unknown expectation', 'GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n', 417],
];

for (const [name, text, status] of bad) {
  test(`refuses ${name} with ${status}`, () => {
    assert.equal(parse(text).status, status);
  });
}

test('too many header fields gives 431', () => {
  let text = 'GET / HTTP/1.1\r\nHost: a\r\n';
  for (let i = 0; i < 200; i++) text += `X-${i}: 1\r\n`;
  assert.equal(parse(text + '\r\n').status, 431);
});

test('findHeadEnd: complete, incomplete, bare LF', () => {
  const b = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\nrest');
  assert.equal(findHeadEnd(b, 0, 0, b.length), b.length - 4);
  assert.equal(findHeadEnd(b, 0, 0, 20), -1);
  const lf = Buffer.from('GET / HTTP/1.1\nHost: a\n\n');
  assert.equal(findHeadEnd(lf, 0, 0, lf.length), -2);
  const lf2 = Buffer.from('GET / HTTP/1.1\r\nHost: a\n\r\n');
  assert.equal(findHeadEnd(lf2, 0, 0, lf2.length), -2);
  // resuming a scan must find a terminator split across reads
  assert.equal(findHeadEnd(b, 0, 24, b.length), b.length - 4);
});

test('findHeadEnd: lines longer than the byte loop scans (memchr takes over) and ends inside a window', () => {
  const long = 'x'.repeat(300);
  const b = Buffer.from(`GET /${long} HTTP/1.1\r\nCookie: ${long}\r\n\r\nrest`);
  assert.equal(findHeadEnd(b, 0, 0, b.length), b.length - 4);
  assert.equal(findHeadEnd(b, 0, 0, b.length - 6), -1); // the last CRLF is past `end`
  assert.equal(findHeadEnd(b, 0, 0, 200), -1); // no LF before `end`, inside the first line
  const bare = Buffer.from(`GET / HTTP/1.1\r\nCookie: ${long}\n\r\n`);
  assert.equal(findHeadEnd(bare, 0, 0, bare.length), -2);
  // from > 0 (a pipelined head) with a long first line
  const two = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n\r\n'), b]);
  assert.equal(findHeadEnd(two, 18, 18, two.length), two.length - 4);
});

test('target: the first ? splits path and query; # anywhere in it is refused; ? and # in headers do not count', () => {
  const q = parse('GET /a/b?c=d?e HTTP/1.1\r\nHost: a\r\nX-Q: ?#\r\n\r\n');
  assert.equal(q.status, 0);
  assert.equal(q.head.target, '/a/b?c=d?e');
  assert.equal(q.head.path, '/a/b');
  const plain = parse('GET /a/b HTTP/1.1\r\nHost: a\r\nReferer: http://x/?y#z\r\n\r\n');
  assert.equal(plain.status, 0);
  assert.equal(plain.head.path, '/a/b');
  assert.equal(parse('GET /a?b#c HTTP/1.1\r\nHost: a\r\n\r\n').status, 400);
  assert.equal(parse('GET /? HTTP/1.1\r\nHost: a\r\n\r\n').head.path, '/');
});

test('refuses CONNECT whatever its target: authority-form is not served, and no other form is valid for it', () => {
  for (const target of ['a.test:443', '/x', 'http://a.test/x', '*']) {
    assert.equal(parse(`CONNECT ${target} HTTP/1.1\r\nHost: a.test\r\n\r\n`).status, 400, target);
  }
  // methods are case-sensitive: "connect" is another (extension) method
  assert.equal(parse('connect /x HTTP/1.1\r\nHost: a.test\r\n\r\n').status, 0);
});

test('with connect (a forward proxy): CONNECT takes authority-form host:port only, the Host header does not replace it', () => {
  const connect = (target: string, host = 'a.test'): { status: number; head: RequestHead } => {
    const raw = Buffer.from(`CONNECT ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 'latin1');
    const head = new RequestHead();
    return { status: parseRequestHead(raw, raw.length, head, '', true), head };
  };
  for (const [target, hostname] of [['a.test:443', 'a.test'], ['192.0.2.1:8443', '192.0.2.1'], ['[2001:db8::1]:443', '[2001:db8::1]']]) {
    const { status, head } = connect(target, 'other.test');
    assert.equal(status, 0, target);
    assert.equal(head.authority, target);
    assert.equal(head.hostname, hostname);
    assert.equal(head.target, '');
  }
  for (const target of ['a.test', 'a.test:', ':443', 'a.test:44a', 'a.test:123456', 'user@a.test:443', 'a.test:443/x', '2001:db8::1:443', '[2001:db8::1]', 'http://a.test:443', '/x', '*']) {
    assert.equal(connect(target).status, 400, target);
  }
  // other methods parse as before with the flag
  const raw = Buffer.from('GET http://a.test:8080/x?y HTTP/1.1\r\nHost: b.test\r\n\r\n', 'latin1');
  const head = new RequestHead();
  assert.equal(parseRequestHead(raw, raw.length, head, '', true), 0);
  assert.equal(head.authority, 'a.test:8080');
  assert.equal(head.target, '/x?y');
});
