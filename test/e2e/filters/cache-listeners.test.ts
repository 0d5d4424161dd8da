// The response cache is one store per worker, shared by every listener, and route names repeat across
// listeners (`#0` is each listener's first unnamed route): a listener must never answer from what another
// listener's pool sent for the same URL. Two listeners, two origins, the same Host on both.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runSwitchyard } from '../../support/run-switchyard.ts';

function origin(name: string): http.Server {
  return http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=300' });
    res.end(`from ${name}`);
  });
}
const internal = origin('internal');
const publicSite = origin('public');
after(() => Promise.all([internal, publicSite].map((server) => new Promise<void>((resolve) => server.close(() => resolve())))));

function get(url: string): Promise<{ body: string; cacheStatus: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { host: 'site.test' }, agent: false }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk));
        response.on('end', () => resolve({ body, cacheStatus: String(response.headers['cache-status'] ?? '') }));
      })
      .on('error', reject);
  });
}

test('two listeners with unnamed cached routes and the same Host keep apart what their pools sent', { timeout: 60_000 }, async () => {
  for (const server of [internal, publicSite]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server: http.Server): number => (server.address() as AddressInfo).port;
  const running = await runSwitchyard(`
workers: 1
pools:
  internal: { backends: [ { address: 127.0.0.1:${port(internal)} } ] }
  public: { backends: [ { address: 127.0.0.1:${port(publicSite)} } ] }
listeners:
  - name: internal
    listen: 127.0.0.1:0
    access_log: false
    routes:
      - { match: { path_prefix: / }, pool: internal, middleware: [ { cache: {} } ] }
  - name: public
    listen: 127.0.0.1:0
    access_log: false
    routes:
      - { match: { path_prefix: / }, pool: public, middleware: [ { cache: {} } ] }
`);
  try {
    const first = await get(running.url('internal', '/report'));
    assert.equal(first.body, 'from internal');
    assert.match((await get(running.url('internal', '/report'))).cacheStatus, /hit/, 'the internal listener stores its answer');
    const other = await get(running.url('public', '/report'));
    assert.equal(other.body, 'from public', `the public listener answers from its own pool (Cache-Status: ${other.cacheStatus})`);
    assert.doesNotMatch(other.cacheStatus, /hit/);
    assert.match((await get(running.url('public', '/report'))).cacheStatus, /hit/);
    assert.equal((await get(running.url('internal', '/report'))).body, 'from internal');
  } finally {
    await running.stop();
  }
});
