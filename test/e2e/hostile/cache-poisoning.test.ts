// Attempts to make the response cache hand one client's response to another, or to share an entry between
// requests the origin tells apart. A raw origin writes response heads byte for byte (repeated fields
// included) and puts the request head it got in the body, so a hit shows whose response it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

/** The extra response fields per path (each ending in CRLF), after `Cache-Control: max-age=60`. */
const extraFields: Record<string, string> = {
  '/second-private': 'Cache-Control: private\r\n',
  '/second-no-store': 'Cache-Control: no-store\r\n',
  '/vary-split': 'Vary: Accept\r\nVary: Cookie\r\n',
  '/set-cookie': 'Set-Cookie: session=alice\r\n',
  '/encoding': 'Vary: Accept-Encoding\r\n',
};

let requestsSeen = 0;
const origin = net.createServer((socket) => {
  let buffered = '';
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
      const head = buffered.slice(0, end);
      buffered = buffered.slice(end + 4);
      requestsSeen++;
      const path = head.split(' ')[1]!;
      const body = `seen: ${head}`;
      socket.write(`HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n${extraFields[path] ?? ''}Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`, 'latin1');
    }
  });
});

let edge: RunningSwitchyard;
let port = 0;
before(async () => {
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  edge = await runSwitchyard(`
workers: 1
log: { access_log: off }
pools:
  o: { backends: [ { address: 127.0.0.1:${(origin.address() as AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    routes:
      - match: { path_prefix: / }
        pool: o
        middleware: [ { cache: { max_size: 8mb } } ]
  - name: h2
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
      - match: { path_prefix: / }
        pool: o
        middleware: [ { cache: { max_size: 8mb } } ]
`);
  port = edge.ready.listeners.web!.port;
});
after(async () => {
  await edge?.stop();
  await new Promise<void>((resolve) => origin.close(() => resolve()));
});

/** Sends `request` (a whole HTTP/1.1 request head) on a new connection; the response's head and body. */
function exchange(request: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (length !== null && text.length >= end + 4 + Number(length[1])) {
        socket.destroy();
        resolve({ head: text.slice(0, end), body: text.slice(end + 4, end + 4 + Number(length[1])) });
      }
    });
    socket.on('error', reject);
    socket.write(request);
  });
}

const get = (path: string, fields = 'Host: site.test\r\n'): Promise<{ head: string; body: string }> => exchange(`GET ${path} HTTP/1.1\r\n${fields}\r\n`);

test('a second Cache-Control field saying private or no-store is honoured (fields combine, RFC 9110 §5.3)', async () => {
  for (const path of ['/second-private', '/second-no-store']) {
    const before = requestsSeen;
    const first = await get(path, 'Host: site.test\r\nCookie: user=alice\r\n');
    assert.doesNotMatch(first.head, /cache-status: [^\r]*stored/i, `${path}: not stored`);
    const second = await get(path, 'Host: site.test\r\nCookie: user=bob\r\n');
    assert.doesNotMatch(second.head, /cache-status: [^\r]*hit/i, `${path}: bob is not answered from the cache`);
    assert.match(second.body, /user=bob/, `${path}: bob gets his own response`);
    assert.equal(requestsSeen - before, 2);
  }
});

test('Vary split over two fields: every name counts in the key', async () => {
  const alice = await get('/vary-split', 'Host: site.test\r\nAccept: */*\r\nCookie: user=alice\r\n');
  assert.match(alice.body, /user=alice/);
  const bob = await get('/vary-split', 'Host: site.test\r\nAccept: */*\r\nCookie: user=bob\r\n');
  assert.match(bob.body, /user=bob/, 'bob is not given the response that varied on alice\'s cookie');
});

test('a Vary field the client sent on two lines: the variant is keyed on both, as the origin read them', async () => {
  const attacker = await get('/encoding', 'Host: site.test\r\nAccept-Encoding: gzip\r\nAccept-Encoding: br\r\n');
  assert.match(attacker.body, /Accept-Encoding: br/);
  const victim = await get('/encoding', 'Host: site.test\r\nAccept-Encoding: gzip\r\n');
  assert.doesNotMatch(victim.head, /cache-status: [^\r]*hit/i, 'a gzip-only client is not answered with what "gzip, br" got');
  assert.doesNotMatch(victim.body, /Accept-Encoding: br/);
  const again = await get('/encoding', 'Host: site.test\r\nAccept-Encoding: gzip, br\r\n');
  assert.match(again.head, /cache-status: [^\r]*hit/i, 'the same values on one line are the same variant');
});

// What held (kept as documentation of the attack surface).

test('Set-Cookie is never stored', async () => {
  await get('/set-cookie');
  const second = await get('/set-cookie');
  assert.match(second.head, /cache-status: [^\r]*detail=set-cookie/i);
});

test('a request with Authorization is not answered from the cache, nor is its response stored', async () => {
  await get('/auth', 'Host: site.test\r\n');
  const authorized = await get('/auth', 'Host: site.test\r\nAuthorization: Basic YTpi\r\n');
  assert.match(authorized.head, /cache-status: [^\r]*detail=authorization/i);
  assert.match(authorized.body, /Authorization: Basic YTpi/);
  await get('/auth-first', 'Host: site.test\r\nAuthorization: Basic YTpi\r\n');
  const anonymous = await get('/auth-first', 'Host: site.test\r\n');
  assert.doesNotMatch(anonymous.body, /Authorization/, 'an authorized response was not stored for others');
});

test('an absolute-form target is keyed by its own authority, which is also the Host the origin gets', async () => {
  const victim = await get('/abs', 'Host: victim.test\r\n');
  assert.match(victim.body, /Host: victim\.test/i);
  const attacker = await exchange('GET http://attacker.test/abs HTTP/1.1\r\nHost: victim.test\r\n\r\n');
  assert.match(attacker.body, /host: attacker\.test/i, 'the attacker\'s request went upstream as attacker.test');
  const again = await get('/abs', 'Host: victim.test\r\n');
  assert.match(again.body, /Host: victim\.test/i, 'victim.test still gets its own entry');
  const sameHost = await exchange('GET http://VICTIM.test:80/abs HTTP/1.1\r\nHost: other.test\r\n\r\n');
  assert.match(sameHost.head, /cache-status: [^\r]*hit/i, 'case and the default port name the same origin');
});

test('query order and encoded paths are kept apart (never merged into another URL)', async () => {
  await get('/q?a=1&b=2');
  const swapped = await get('/q?b=2&a=1');
  assert.match(swapped.body, /GET \/q\?b=2&a=1 /);
  const encoded = await get('/%2F/x');
  assert.match(encoded.head, /^HTTP\/1\.1 400/, 'an encoded slash is refused');
});

test('HTTP/2: :authority and a different Host field: the key and the origin both follow :authority', async () => {
  const client = http2.connect(`http://127.0.0.1:${edge.ready.listeners.h2!.port}`);
  client.on('error', () => undefined);
  const fetch = (fields: http2.OutgoingHttpHeaders): Promise<{ cacheStatus: string; body: string }> =>
    new Promise((resolve, reject) => {
      const stream = client.request(fields);
      let body = '';
      let cacheStatus = '';
      stream.on('response', (head) => (cacheStatus = String(head['cache-status'] ?? '')));
      stream.on('data', (chunk: Buffer) => (body += chunk.toString('latin1')));
      stream.on('end', () => resolve({ cacheStatus, body }));
      stream.on('error', reject);
    });
  try {
    const good = await fetch({ ':path': '/h2-authority', ':authority': 'good.test', host: 'evil.test' });
    assert.match(good.body, /host: good\.test/i);
    assert.doesNotMatch(good.body, /evil\.test/);
    const evil = await fetch({ ':path': '/h2-authority', ':authority': 'evil.test', host: 'good.test' });
    assert.doesNotMatch(evil.cacheStatus, /hit/, 'evil.test is its own entry');
    assert.match(evil.body, /host: evil\.test/i);
  } finally {
    client.close();
  }
});
