// compress behind a route (HTTP/1.1 and HTTP/2 downstreams): an upstream faster than the compressor is held
// back, so the edge holds a bounded amount of the body, not all of it (test/support/compress-lag.ts measures it).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { fastOrigin, type FastOrigin } from '../../support/compress-lag.ts';

const total = 256 * 1024 * 1024;
let origin: FastOrigin;
let h2Origins: FastOrigin[] = [];
let edge: RunningSwitchyard;

before(async () => {
  origin = await fastOrigin(total);
  // one origin per HTTP/2 engine: each measures its own lag
  h2Origins = [await fastOrigin(total), await fastOrigin(total)];
  const h2 = (name: string, engine: string, pool: string) => `
  - name: ${name}
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: ${engine} }
    middleware: [ { compress: { encodings: [gzip] } } ]
    routes:
      - match: { path_prefix: / }
        pool: ${pool}`;
  edge = await runSwitchyard(`
workers: 1
pools:
  fast: { backends: [ { address: 127.0.0.1:${origin.port} } ] }
  fast_auto: { backends: [ { address: 127.0.0.1:${h2Origins[0].port} } ] }
  fast_node: { backends: [ { address: 127.0.0.1:${h2Origins[1].port} } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    middleware: [ { compress: { encodings: [gzip] } } ]
    routes:
      - match: { path_prefix: / }
        pool: fast${h2('h2auto', 'auto', 'fast_auto')}${h2('h2node', 'node', 'fast_node')}
`);
});

after(async () => {
  await edge?.stop();
  await origin?.close();
  for (const one of h2Origins) await one.close();
});

test('compress on HTTP/1.1: an upstream faster than the compressor waits for it', async () => {
  await origin.fetch(edge.ready.listeners.web.port, `GET /big HTTP/1.1\r\nHost: web.test\r\nAccept-Encoding: gzip\r\n\r\n`);
  assert.ok(origin.worstLag() < 64 * 1024 * 1024, `the upstream got ${Math.round(origin.worstLag() / 1048576)} MB ahead of what the client decoded`);
});

test('compress on HTTP/2 (both engines): an upstream faster than the compressor waits for it', async () => {
  for (const [listener, fast] of [['h2auto', h2Origins[0]], ['h2node', h2Origins[1]]] as const) {
    const { host, port } = edge.ready.listeners[listener];
    await fast.fetchH2(`http://${host}:${port}`, '/big');
    assert.ok(fast.worstLag() < 64 * 1024 * 1024, `${listener}: the upstream got ${Math.round(fast.worstLag() / 1048576)} MB ahead of what the client decoded`);
  }
});
