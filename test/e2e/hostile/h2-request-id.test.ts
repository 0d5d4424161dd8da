// An HTTP/2 client's X-Request-Id sent twice must not reach the origin twice (the log would keep one, the
// origin may read the other): as on the HTTP/1.1 path (request-smuggling.test.ts), an id sent on two lines
// is not the client's, and the edge's own id replaces both — to an HTTP/1.1 pool (src/l7/bridge.ts) and to
// an HTTP/2 pool (src/h2/dispatch.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const seen: string[] = [];
/** What the h2c origin got: every X-Request-Id value of each request. */
const seenByH2: string[][] = [];
const h2Origin = http2.createServer((req, res) => {
  seenByH2.push(req.rawHeaders.flatMap((name, i) => (i % 2 === 0 && name.toLowerCase() === 'x-request-id' ? [req.rawHeaders[i + 1]] : [])));
  res.end('ok');
});
const origin = net.createServer((socket) => {
  let buffered = '';
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
      seen.push(buffered.slice(0, end));
      buffered = buffered.slice(end + 4);
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    }
  });
});

let edge: RunningSwitchyard;
before(async () => {
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => h2Origin.listen(0, '127.0.0.1', resolve));
  edge = await runSwitchyard(`
workers: 1
log: { access_log: off }
pools:
  o: { backends: [ { address: 127.0.0.1:${(origin.address() as AddressInfo).port} } ] }
  h2: { protocol: h2c, backends: [ { address: 127.0.0.1:${(h2Origin.address() as AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
      - match: { path_prefix: /h2/ }
        pool: h2
      - match: { path_prefix: / }
        pool: o
`);
});
after(async () => {
  await edge?.stop();
  await new Promise<void>((resolve) => origin.close(() => resolve()));
  await new Promise<void>((resolve) => h2Origin.close(() => resolve()));
});

/** One request with X-Request-Id sent on two lines. */
async function sendTwice(path: string): Promise<void> {
  const client = http2.connect(`http://127.0.0.1:${edge.ready.listeners.web!.port}`);
  try {
    await new Promise<void>((resolve, reject) => {
      const stream = client.request({ ':path': path, 'x-request-id': ['one', 'two'] });
      stream.on('error', reject);
      stream.resume();
      stream.on('end', () => resolve());
    });
  } finally {
    client.close();
  }
}

test('HTTP/2 to an HTTP/1.1 pool: X-Request-Id sent twice, the origin gets one id, the edge\'s', async () => {
  await sendTwice('/dup');
  const head = seen.at(-1)!;
  const ids = [...head.matchAll(/\r\nx-request-id: ([^\r]*)/gi)].map((match) => match[1]);
  assert.equal(ids.length, 1, `one X-Request-Id line upstream: ${JSON.stringify(ids)}`);
  assert.ok(!['one', 'two'].includes(ids[0]), `the edge's own id: ${ids[0]}`);
});

test('HTTP/2 to an HTTP/2 pool: X-Request-Id sent twice, the origin gets one id, the edge\'s', async () => {
  await sendTwice('/h2/dup');
  const ids = seenByH2.at(-1)!;
  assert.equal(ids.length, 1, `one X-Request-Id field upstream: ${JSON.stringify(ids)}`);
  assert.ok(!['one', 'two'].includes(ids[0]), `the edge's own id: ${ids[0]}`);
});
