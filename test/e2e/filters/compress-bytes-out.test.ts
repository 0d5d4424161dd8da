// bytes_out in the access line is what the client got: for a compressed body the compressed size, on every
// HTTP/2 path (HTTP/2 → HTTP/1.1 pool through the bridge, HTTP/2 → h2c pool through the upstream core; body
// bytes) as on HTTP/1.1 (head and body as written). A real `switchyard start` process, curl as the client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const run = promisify(execFile);
const json = JSON.stringify({ items: Array.from({ length: 400 }, (_, i) => ({ id: i, name: `item ${i}` })) });
const h1 = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': json.length }).end(json));
const h2 = http2.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': json.length }).end(json));
let sy: RunningSwitchyard;

before(async () => {
  await new Promise<void>((resolve) => h1.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  const routes = `
      - { match: { path_prefix: /h1 }, pool: h1, middleware: [ { compress: { min_size: 1kb } } ] }
      - { match: { path_prefix: /h2 }, pool: h2, middleware: [ { compress: { min_size: 1kb } } ] }`;
  sy = await runSwitchyard(`
pools:
  h1: { backends: [ { address: 127.0.0.1:${(h1.address() as AddressInfo).port} } ] }
  h2: { protocol: h2c, backends: [ { address: 127.0.0.1:${(h2.address() as AddressInfo).port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:${routes}
  - name: h2
    listen: 127.0.0.1:0
    protocol: h2c
    routes:${routes}
`);
});

after(async () => {
  await sy?.stop();
  await new Promise<void>((resolve) => h1.close(() => resolve()));
  await new Promise<void>((resolve) => h2.close(() => resolve()));
});

for (const [listener, flag] of [['web', '--http1.1'], ['h2', '--http2-prior-knowledge']] as const) {
  for (const pool of ['h1', 'h2']) {
    test(`${listener} listener → ${pool} pool: bytes_out counts the gzip body the client got`, async () => {
      const path = `/${pool}/${listener}`;
      const { stdout } = await run('curl', ['-s', flag, '-H', 'accept-encoding: gzip', '-o', '/dev/null', '-w', '%{size_download} %{size_header}', sy.url(listener, path)]);
      const [got, head] = stdout.split(' ').map(Number);
      assert.ok(got > 0 && got < json.length / 4, `${got} bytes on the wire for ${json.length}`);
      const line = await sy.waitForLine((entry) => entry.path === path && entry.status === 200);
      const bytesOut = Number(line.bytes_out);
      if (listener === 'h2') assert.equal(bytesOut, got, 'HTTP/2: the body bytes sent');
      else {
        // HTTP/1.1: head and body as written, the body's chunk framing included
        const framing = bytesOut - head - got;
        assert.ok(framing >= 0 && framing < 64, `bytes_out ${bytesOut}: head ${head} + body ${got} + framing ${framing}`);
      }
    });
  }
}
