// A request filter that answers (short-circuit) gives the same edge-made response on every downstream and
// for every pool kind, and the upstream never hears of the request. No built-in filter answers, so the
// listener is built in this process with a registry (HttpListenerDeps.filters, the extension point) whose
// `headers` entry is a test filter that refuses requests carrying `x-deny`.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { curlText, type TextReply } from '../../support/curl-text.ts';
import http from 'node:http';
import http2 from 'node:http2';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseConfigText } from '../../../src/config/index.ts';
import { silentLogger, systemClock } from '../../../src/core/index.ts';
import { buildPools } from '../../../src/pool/index.ts';
import { createH2Listener, type H2Listener } from '../../../src/h2/index.ts';
import { FilterHost, type FilterFactory } from '../../../src/l7/index.ts';

const denying: FilterFactory = {
  name: 'headers',
  create: () => ({
    name: 'deny',
    onRequest: (ctx) => (ctx.header('x-deny') === undefined ? undefined : { status: 403, headers: ['x-denied-by', 'test', 'x-path', ctx.path], body: `no ${ctx.method}\n` }),
  }),
};


describe('a request filter that answers, on every protocol pair', { timeout: 60_000 }, () => {
  let dir: string;
  let reached = 0;
  const h1 = http.createServer((req, res) => {
    reached++;
    res.end('origin');
  });
  const h2 = http2.createServer();
  h2.on('stream', (stream) => {
    reached++;
    stream.respond({ ':status': 200 });
    stream.end('origin');
  });
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    h2Sessions.add(session);
    session.on('close', () => h2Sessions.delete(session));
  });
  const listeners: H2Listener[] = [];
  const pools: ReturnType<typeof buildPools>[] = [];
  const ports: Record<string, number> = {};

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-filter-answers-'));
    await new Promise<void>((resolve) => h1.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    for (const engine of ['auto', 'node']) {
      const yaml = `pools:
  h1: { backends: [ { address: 127.0.0.1:${(h1.address() as AddressInfo).port} } ] }
  h2: { protocol: h2c, backends: [ { address: 127.0.0.1:${(h2.address() as AddressInfo).port} } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: ${engine} }
    access_log: false
    routes:
      - { match: { path_prefix: /h1 }, pool: h1, middleware: [ { headers: {} } ] }
      - { match: { path_prefix: /h2 }, pool: h2, middleware: [ { headers: {} } ] }
`;
      const { config } = parseConfigText(yaml, 'edge.yaml', dir);
      const built = buildPools(config.pools, { clock: systemClock });
      pools.push(built);
      const listener = createH2Listener(config.listeners[0], { pools: built, logger: silentLogger(), accessLog: silentLogger(), clock: systemClock, dataDir: dir, baseDir: dir, filters: new FilterHost({ registry: new Map([['headers', denying]]) }) });
      listeners.push(listener);
      await listener.start();
      ports[engine] = listener.address().port;
    }
  });

  after(async () => {
    for (const listener of listeners) await listener.stop();
    for (const built of pools) built.close();
    for (const session of h2Sessions) session.destroy();
    await new Promise<void>((resolve) => h1.close(() => resolve()));
    await new Promise<void>((resolve) => h2.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const clients = [
    { client: 'HTTP/1.1', engine: 'auto', flags: ['--http1.1'] },
    { client: 'HTTP/2 (codec)', engine: 'auto', flags: ['--http2-prior-knowledge'] },
    { client: 'HTTP/2 (http2.engine: node)', engine: 'node', flags: ['--http2-prior-knowledge'] },
  ];

  it('answers the same 403 everywhere, and the origins see nothing', async () => {
    const replies: TextReply[] = [];
    for (const { client, engine, flags } of clients) {
      for (const pool of ['h1', 'h2']) {
        const reply = await curlText(flags, `http://127.0.0.1:${ports[engine]}/${pool}/x`, ['x-deny: 1']);
        assert.equal(reply.status, 403, `${client} → ${pool}`);
        assert.equal(reply.body, 'no GET\n', `${client} → ${pool}`);
        assert.equal(reply.headers['x-denied-by'], 'test');
        assert.equal(reply.headers['x-path'], `/${pool}/x`);
        assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
        assert.equal(reply.headers['content-length'], '7');
        assert.match(reply.headers.date, /GMT$/);
        replies.push(reply);
      }
    }
    assert.equal(reached, 0, 'no request reached an origin');
    // without x-deny the filter lets requests through, on every pair
    for (const { engine, flags } of clients) {
      for (const pool of ['h1', 'h2']) assert.equal((await curlText(flags, `http://127.0.0.1:${ports[engine]}/${pool}/x`, [])).body, 'origin');
    }
    assert.equal(reached, 6);
  });
});
