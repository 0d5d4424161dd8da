// An HTTP/2 client's X-Request-Id sent twice reaches the origin twice (the log keeps the first, the origin
// may read the second). The HTTP/1.1 path replaces both by a generated id (request-smuggling.test.ts); the
// HTTP/2 path takes its id in src/h2/dispatch.ts and src/l7/bridge.ts, left to the helper working there:
// marked todo, so it runs and shows its failure without failing the suite.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const seen: string[] = [];
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
  edge = await runSwitchyard(`
workers: 1
log: { access_log: off }
pools:
  o: { backends: [ { address: 127.0.0.1:${(origin.address() as AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
      - match: { path_prefix: / }
        pool: o
`);
});
after(async () => {
  await edge?.stop();
  await new Promise<void>((resolve) => origin.close(() => resolve()));
});

test('HTTP/2: X-Request-Id sent twice, the origin gets one id', { todo: 'src/h2/dispatch.ts and src/l7/bridge.ts take the first value and keep both lines' }, async () => {
  const client = http2.connect(`http://127.0.0.1:${edge.ready.listeners.web!.port}`);
  try {
    await new Promise<void>((resolve, reject) => {
      const stream = client.request({ ':path': '/dup', 'x-request-id': ['one', 'two'] });
      stream.on('error', reject);
      stream.resume();
      stream.on('end', () => resolve());
    });
  } finally {
    client.close();
  }
  const head = seen.at(-1)!;
  const ids = [...head.matchAll(/\r\nx-request-id: ([^\r]*)/gi)].map((match) => match[1]);
  assert.equal(ids.length, 1, `one X-Request-Id line upstream: ${JSON.stringify(ids)}`);
});
