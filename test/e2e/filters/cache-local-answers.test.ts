// A cache declared before a filter that answers itself: the answer passes through the cache's response
// hook (the chain shows a filter's own answer to the response filters declared before it), and the cache
// must not store it as the URL's response. Here an auth service denies with a cacheable 404; a request the
// service allows must still reach the origin, on HTTP/1.1 and on both HTTP/2 engines.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { curlText } from '../../support/curl-text.ts';

let edge: RunningSwitchyard;
const servers: http.Server[] = [];
let originHits = 0;

async function listen(server: http.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

before(async () => {
  const authPort = await listen(
    http.createServer((req, res) => {
      if (req.headers.authorization === 'Bearer ok') return void res.writeHead(200).end();
      // an unauthenticated write is sent to log in
      if (req.headers['x-forwarded-method'] === 'POST') return void res.writeHead(302, { location: '/login' }).end();
      res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
      res.end('denied\n');
    }),
  );
  const originPort = await listen(
    http.createServer((_req, res) => {
      originHits++;
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=60' });
      res.end('the page\n');
    }),
  );
  const middleware = `
    middleware:
      - cache: { max_size: 1mb }
      - forward_auth: { url: "http://127.0.0.1:${authPort}/check" }
    routes: [ { match: { path_prefix: / }, pool: app } ]`;
  edge = await runSwitchyard(`
workers: 1
pools:
  app: { backends: [ { address: 127.0.0.1:${originPort} } ] }
listeners:
  - name: h1
    listen: 127.0.0.1:0${middleware}
  - name: h2auto
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: auto }${middleware}
  - name: h2node
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: node }${middleware}
`);
});

after(async () => {
  await edge?.stop();
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a cacheable denial from a filter after the cache is not stored: an allowed request still gets the origin', async () => {
  for (const [listener, flags] of [['h1', []], ['h2auto', ['--http2-prior-knowledge']], ['h2node', ['--http2-prior-knowledge']]] as const) {
    const url = edge.url(listener, '/page');
    const denied = await curlText([...flags], url, []);
    assert.equal(denied.status, 404, listener);
    assert.equal(denied.body, 'denied\n', listener);
    assert.doesNotMatch(denied.headers['cache-status'] ?? '', /stored/, listener);
    const before = originHits;
    const allowed = await curlText([...flags], url, ['Authorization: Bearer ok']);
    assert.equal(allowed.status, 200, `${listener}: ${allowed.headers['cache-status']}`);
    assert.equal(allowed.body, 'the page\n', listener);
    assert.equal(originHits, before + 1, listener);
  }
});

test('a write refused by a filter after the cache (a 302 to log in) does not invalidate what is stored for the URL', async () => {
  for (const [listener, flags] of [['h1', []], ['h2auto', ['--http2-prior-knowledge']], ['h2node', ['--http2-prior-knowledge']]] as const) {
    const url = edge.url(listener, '/stored');
    const stored = await curlText([...flags], url, ['Authorization: Bearer ok']);
    assert.match(stored.headers['cache-status'], /stored/, listener);
    const refused = await curlText([...flags, '-X', 'POST', '-d', 'x'], url, []);
    assert.equal(refused.status, 302, listener);
    const again = await curlText([...flags], url, ['Authorization: Bearer ok']);
    assert.match(again.headers['cache-status'], /hit/, `${listener}: an unauthenticated POST emptied the cache`);
  }
});
