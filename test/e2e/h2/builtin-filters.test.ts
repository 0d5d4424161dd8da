// The built-in filters on the HTTP/2 → HTTP/2 pair (the codec's streams to an h2c pool), beside the same
// requests to an HTTP/1.1 pool on the same listener: response_headers.hide, HSTS (the listener's value
// replaces an upstream's), the request id (one generator, the client's usable id kept, an unusable one
// replaced), forwarded headers and traceparent — and a route's `headers` filter runs after them, so it
// can still override what they wrote.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2, { type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { startEdge, type Edge } from './edge.ts';
import { tempDir } from '../tls/support.ts';

/** What the origin's response carries that the edge must remove or replace. */
const ORIGIN_FIELDS = { server: 'origin/1.0', 'x-powered-by': 'php', 'strict-transport-security': 'max-age=1', 'x-kept': 'yes' };

async function startOrigins(): Promise<{ h2: Http2Server; h1: http.Server; h2Port: number; h1Port: number }> {
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    const body = JSON.stringify(headers);
    stream.respond({ ':status': 200, 'content-type': 'application/json', ...ORIGIN_FIELDS });
    stream.end(body);
  });
  const h1 = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...ORIGIN_FIELDS });
    res.end(JSON.stringify(req.headers));
  });
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => h1.listen(0, '127.0.0.1', resolve));
  return { h2, h1, h2Port: (h2.address() as AddressInfo).port, h1Port: (h1.address() as AddressInfo).port };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The request fields the origin saw. */
  seen: Record<string, string>;
}

describe('built-in filters on HTTP/2 → HTTP/2 (and HTTP/2 → HTTP/1.1 beside it)', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  let origins: Awaited<ReturnType<typeof startOrigins>>;
  let edge: Edge;
  let client: http2.ClientHttp2Session;

  before(async () => {
    dir = await tempDir('sy-h2builtin-');
    origins = await startOrigins();
    edge = await startEdge(
      `
pools:
  h2pool: { protocol: h2c, backends: [ { address: "127.0.0.1:${origins.h2Port}" } ] }
  h1pool: { backends: [ { address: "127.0.0.1:${origins.h1Port}" } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true, hsts: { max_age: 1d } }
    forwarded: { headers: [x-forwarded-for, x-forwarded-proto, x-forwarded-port, forwarded] }
    response_headers: { hide: [server, x-powered-by] }
    routes:
      - { match: { path_prefix: /h2/override/ }, pool: h2pool, middleware: [ { headers: { request: { set: { x-forwarded-proto: custom } }, response: { set: { server: edge } } } } ] }
      - { match: { path_prefix: /h1/override/ }, pool: h1pool, middleware: [ { headers: { request: { set: { x-forwarded-proto: custom } }, response: { set: { server: edge } } } } ] }
      - { match: { path_prefix: /h2/ }, pool: h2pool }
      - { match: { path_prefix: /h1/ }, pool: h1pool }
`,
      { baseDir: dir.dir, dataDir: dir.dir, traceToken: 'trace-secret' },
    );
    client = http2.connect(`https://localhost:${edge.port}`, { ca: await readFile(edge.listener.caPath!) });
  });

  after(async () => {
    client?.close();
    await edge?.close();
    origins?.h2.close();
    origins?.h1.close();
    await dir?.remove();
  });

  function get(path: string, extra: Record<string, string> = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const stream = client.request({ ':path': path, ...extra });
      let headers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (headers = h));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => resolve({ status: Number(headers[':status']), headers, seen: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string> }));
      stream.on('error', reject);
    });
  }

  for (const pool of ['h2', 'h1']) {
    it(`${pool} pool: response_headers.hide and HSTS apply to the upstream's response`, async () => {
      const answer = await get(`/${pool}/x`);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.server, undefined, 'server hidden');
      assert.equal(answer.headers['x-powered-by'], undefined, 'x-powered-by hidden');
      assert.equal(answer.headers['strict-transport-security'], 'max-age=86400', "the listener's HSTS replaces the upstream's");
      assert.equal(answer.headers['x-kept'], 'yes');
    });

    it(`${pool} pool: the request id is the listener's when the client sent none or an unusable one, the client's otherwise`, async () => {
      const generated = await get(`/${pool}/id`);
      assert.match(generated.seen['x-request-id'], /^[0-9a-f]{16}-[0-9a-z]+$/, 'one generator: a per-process prefix and a counter');
      const kept = await get(`/${pool}/id`, { 'x-request-id': 'client-id-1' });
      assert.equal(kept.seen['x-request-id'], 'client-id-1');
      const replaced = await get(`/${pool}/id`, { 'x-request-id': 'x'.repeat(201) });
      assert.match(replaced.seen['x-request-id'], /^[0-9a-f]{16}-[0-9a-z]+$/, 'an id over 200 bytes is replaced');
      const logged = edge.accessLines.filter((line) => line.path === `/${pool}/id`).map((line) => line.request_id);
      assert.deepEqual(logged.slice(-3), [generated.seen['x-request-id'], 'client-id-1', replaced.seen['x-request-id']], 'the upstream sees the logged id');
    });

    it(`${pool} pool: forwarded headers and traceparent are the edge's`, async () => {
      const answer = await get(`/${pool}/fwd`, { 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', traceparent: 'bogus', tracestate: 'k=v' });
      assert.equal(answer.seen['x-forwarded-for'], '127.0.0.1', 'an untrusted client cannot forge the chain');
      assert.equal(answer.seen['x-forwarded-proto'], 'https');
      assert.equal(answer.seen['x-forwarded-port'], String(edge.port));
      assert.equal(answer.seen.forwarded, `for=127.0.0.1;proto=https;host="localhost:${edge.port}"`);
      assert.match(answer.seen.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assert.equal(answer.seen.tracestate, undefined, 'a tracestate without its valid traceparent is dropped');
      assert.equal(answer.seen['x-real-ip'], undefined, 'not in forwarded.headers');
    });

    it(`${pool} pool: server_timing answers a request carrying the admin token, and no other`, async () => {
      const traced = await get(`/${pool}/t`, { 'x-switchyard-trace': 'trace-secret' });
      assert.match(String(traced.headers['server-timing']), /edge_route;desc="#\d+";dur=[\d.]+;start=0/);
      assert.match(String(traced.headers.traceresponse), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assert.equal(traced.seen['x-switchyard-trace'], undefined, 'the token never goes upstream');
      const plain = await get(`/${pool}/t`, { 'x-switchyard-trace': 'wrong' });
      assert.equal(plain.headers['server-timing'], undefined);
      assert.equal(plain.headers.traceresponse, undefined);
    });

    it(`${pool} pool: a route's headers filter runs after the built-ins and overrides them`, async () => {
      const answer = await get(`/${pool}/override/x`);
      assert.equal(answer.seen['x-forwarded-proto'], 'custom');
      assert.equal(answer.headers.server, 'edge', 'a hidden name set again by a filter');
    });
  }
});
