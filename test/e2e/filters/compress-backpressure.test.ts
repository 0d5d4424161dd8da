// compress behind a route (HTTP/1.1 downstream): an upstream faster than the compressor is held back, so
// the edge holds a bounded amount of the body, not all of it (test/support/compress-lag.ts measures it).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { fastOrigin, type FastOrigin } from '../../support/compress-lag.ts';

const total = 256 * 1024 * 1024;
let origin: FastOrigin;
let edge: RunningSwitchyard;

before(async () => {
  origin = await fastOrigin(total);
  edge = await runSwitchyard(`
workers: 1
pools:
  fast: { backends: [ { address: 127.0.0.1:${origin.port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    middleware: [ { compress: { encodings: [gzip] } } ]
    routes:
      - match: { path_prefix: / }
        pool: fast
`);
});

after(async () => {
  await edge?.stop();
  await origin?.close();
});

test('compress on HTTP/1.1: an upstream faster than the compressor waits for it', async () => {
  await origin.fetch(edge.ready.listeners.web.port, `GET /big HTTP/1.1\r\nHost: web.test\r\nAccept-Encoding: gzip\r\n\r\n`);
  assert.ok(origin.worstLag() < 64 * 1024 * 1024, `the upstream got ${Math.round(origin.worstLag() / 1048576)} MB ahead of what the client decoded`);
});
