// The filter contract on every protocol pair (HTTP/1.1 and HTTP/2 downstream, both HTTP/2 engines × HTTP/1.1
// and h2c pools): an async request filter holds the request (body included) until it decides, a body
// transform rewrites the response as it streams, a response filter replaces an upstream answer, a filter
// pins the backend, and per-request state passes from the request phase to the response phase. The
// listener is built in this process with a registry whose `headers` entry is a test filter steered by
// request headers (HttpListenerDeps.filters, the extension point).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { curlText } from '../../support/curl-text.ts';
import http from 'node:http';
import http2 from 'node:http2';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net, { type AddressInfo } from 'node:net';
import { parseConfigText } from '../../../src/config/index.ts';
import { silentLogger, systemClock } from '../../../src/core/index.ts';
import { buildPools } from '../../../src/pool/index.ts';
import { createH2Listener, type H2Listener } from '../../../src/h2/index.ts';
import { FilterHost, type BodyTransform, type FilterFactory, type HttpFilter, type RequestVerdict } from '../../../src/l7/index.ts';

const later = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));

/** Upper-cases each chunk on a later turn (as zlib would answer): the length changes meaning, so keepsLength is false. */
const upperCase: BodyTransform = {
  keepsLength: false,
  open: (next) => ({
    write: (chunk) => setImmediate(() => next.write(Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1'))),
    end: () => setImmediate(() => next.end()),
  }),
};

const steered: FilterFactory = {
  name: 'headers',
  create: (): HttpFilter => {
    const filter: HttpFilter = {
      name: 'steered',
      readsBody: 32,
      onRequest(ctx): RequestVerdict | Promise<RequestVerdict> {
        if (ctx.header('x-body-rule') !== undefined && ctx.bodyPrefix().includes('evil')) {
          ctx.setReason('steered:evil-body');
          return { status: 403, headers: [], body: `body refused after ${ctx.bodyPrefix().length} bytes\n` };
        }
        const stash = ctx.header('x-stash');
        if (stash !== undefined) ctx.stash(filter, `${stash}@${ctx.routeName}?${ctx.query}`);
        const prefer = ctx.header('x-prefer');
        if (prefer !== undefined) ctx.preferBackend(prefer);
        const wait = ctx.header('x-wait');
        if (wait === 'allow') return later(40, undefined);
        if (wait === 'deny') return later(40, { status: 403, headers: ['x-denied-by', 'async'], body: 'denied later\n' });
        if (wait === 'throw') return Promise.reject(new Error('store down'));
        return undefined;
      },
      onResponse(ctx, head, response) {
        const stashed = ctx.stashed(filter);
        if (stashed !== undefined) head.set('x-stashed', String(stashed));
        const second = ctx.cookie('second');
        if (second !== undefined) head.set('x-second-cookie', `${second} of ${ctx.header('cookie')}`);
        head.set('x-upstream-said', `${response.status} ${response.header('x-origin') ?? '-'} ${response.backend === '' ? 'no-backend' : 'backend'}`);
        if (ctx.header('x-replace') !== undefined) return { status: 200, headers: ['x-replaced', String(response.status)], body: 'replaced\n' };
        if (ctx.header('x-upper') !== undefined) return upperCase;
        return undefined;
      },
    };
    return filter;
  },
};


describe('the filter contract, on every protocol pair', { timeout: 120_000 }, () => {
  let dir: string;
  const seen: string[] = [];
  const body = (chunks: Buffer[]) => Buffer.concat(chunks).toString('latin1');
  const h1Origin = (name: string) =>
    http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push(`${name} ${req.method} ${body(chunks)}`);
        res.writeHead(req.url?.endsWith('/missing') ? 404 : 200, { 'x-origin': name, 'content-type': 'text/plain', server: 'origin/1.0', 'x-powered-by': 'node' });
        res.end(`origin ${name} ${req.method} ${body(chunks)}`);
      });
    });
  const h2Origin = (name: string) => {
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        seen.push(`${name} ${headers[':method']} ${body(chunks)}`);
        stream.respond({ ':status': String(headers[':path'])?.endsWith('/missing') ? 404 : 200, 'x-origin': name, 'content-type': 'text/plain', server: 'origin/2.0', 'x-powered-by': 'node' });
        stream.end(`origin ${name} ${headers[':method']} ${body(chunks)}`);
      });
    });
    return server;
  };
  const origins = { a: h1Origin('a'), b: h1Origin('b'), c: h2Origin('c'), d: h2Origin('d') };
  const sessions = new Set<http2.ServerHttp2Session>();
  for (const server of [origins.c, origins.d]) {
    server.on('session', (session) => {
      sessions.add(session);
      session.on('close', () => sessions.delete(session));
    });
  }
  const listeners: H2Listener[] = [];
  const pools: ReturnType<typeof buildPools>[] = [];
  const ports: Record<string, number> = {};
  const port = (name: keyof typeof origins) => (origins[name].address() as AddressInfo).port;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-filter-contract-'));
    for (const server of Object.values(origins)) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    for (const engine of ['auto', 'node']) {
      const yaml = `pools:
  h1: { backends: [ { address: 127.0.0.1:${port('a')} }, { address: 127.0.0.1:${port('b')} } ] }
  h2: { protocol: h2c, backends: [ { address: 127.0.0.1:${port('c')} }, { address: 127.0.0.1:${port('d')} } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: ${engine} }
    access_log: false
    timeouts: { upstream_response: 2s }
    routes:
      - { name: to-h1, match: { path_prefix: /h1 }, pool: h1, middleware: [ { headers: {} } ] }
      - { name: to-h2, match: { path_prefix: /h2 }, pool: h2, middleware: [ { headers: {} } ] }
`;
      const { config } = parseConfigText(yaml, 'edge.yaml', dir);
      const built = buildPools(config.pools, { clock: systemClock });
      pools.push(built);
      const listener = createH2Listener(config.listeners[0], { pools: built, logger: silentLogger(), accessLog: silentLogger(), clock: systemClock, dataDir: dir, baseDir: dir, filters: new FilterHost({ registry: new Map([['headers', steered]]) }) });
      listeners.push(listener);
      await listener.start();
      ports[engine] = listener.address().port;
    }
  });

  after(async () => {
    for (const listener of listeners) await listener.stop();
    for (const built of pools) built.close();
    for (const session of sessions) session.destroy();
    for (const server of Object.values(origins)) await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const pairs = [
    { client: 'HTTP/1.1', engine: 'auto', flags: ['--http1.1'] },
    { client: 'HTTP/2 (codec)', engine: 'auto', flags: ['--http2-prior-knowledge'] },
    { client: 'HTTP/2 (http2.engine: node)', engine: 'node', flags: ['--http2-prior-knowledge'] },
  ].flatMap((client) => ['h1', 'h2'].map((pool) => ({ ...client, pool, name: `${client.client} → ${pool} pool` })));
  const url = (engine: string, pool: string, rest = '/x') => `http://127.0.0.1:${ports[engine]}/${pool}${rest}`;

  it('an async request filter holds the request and its body, then lets it through whole', async () => {
    for (const { engine, flags, pool, name } of pairs) {
      seen.length = 0;
      const reply = await curlText([...flags, '--data-binary', 'the-body'], url(engine, pool), ['x-wait: allow', 'content-type: text/plain']);
      assert.equal(reply.status, 200, name);
      assert.match(reply.body, /^origin [a-d] POST the-body$/, name);
      assert.deepEqual(seen.map((line) => line.slice(2)), ['POST the-body'], name);
    }
  });

  it('an async request filter that refuses answers for the upstream, which hears nothing', async () => {
    seen.length = 0;
    for (const { engine, flags, pool, name } of pairs) {
      const reply = await curlText([...flags, '--data-binary', 'never-sent'], url(engine, pool), ['x-wait: deny']);
      assert.equal(reply.status, 403, name);
      assert.equal(reply.body, 'denied later\n', name);
      assert.equal(reply.headers['x-denied-by'], 'async', name);
    }
    assert.deepEqual(seen, []);
  });

  it('a filter that reads the body sees its first bytes before anything goes upstream', async () => {
    for (const { engine, flags, pool, name } of pairs) {
      seen.length = 0;
      const refused = await curlText([...flags, '--data-binary', 'this body is evil, and long enough to pass the 32 byte prefix'], url(engine, pool), ['x-body-rule: 1']);
      assert.equal(refused.status, 403, name);
      assert.equal(refused.body, 'body refused after 32 bytes\n', name);
      assert.deepEqual(seen, [], name);
      // HTTP/1.1 sends it chunked (no length known ahead), HTTP/2 as DATA with a content-length
      const framing = flags[0] === '--http1.1' ? ['transfer-encoding: chunked'] : [];
      const chunked = await curlText([...flags, '--data-binary', 'evil'], url(engine, pool), ['x-body-rule: 1', ...framing]);
      assert.equal(chunked.status, 403, `${name}: a body shorter than the prefix is read whole`);
      const fine = await curlText([...flags, '--data-binary', 'a perfectly ordinary body that is longer than thirty-two bytes'], url(engine, pool), ['x-body-rule: 1']);
      assert.equal(fine.status, 200, name);
      assert.deepEqual((seen as string[]).map((line) => line.slice(2)), ['POST a perfectly ordinary body that is longer than thirty-two bytes'], name);
    }
  });

  it('HTTP/1.1: a chunked body split across packets cannot slip a rule past the prefix read', async () => {
    seen.length = 0;
    const socket = net.connect(ports.auto, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.write('POST /h1/x HTTP/1.1\r\nhost: edge.test\r\nx-body-rule: 1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nev');
    await later(100, undefined);
    socket.write('i\r\n2\r\nl!\r\n');
    await later(100, undefined);
    socket.write('0\r\n\r\n');
    await new Promise<void>((resolve) => socket.once('end', resolve));
    const text = Buffer.concat(received).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 403 /);
    assert.match(text, /body refused after 5 bytes/);
    assert.deepEqual(seen, []);
  });

  it('a filter whose promise rejects gets a 500, and nothing goes upstream', async () => {
    seen.length = 0;
    for (const { engine, flags, pool, name } of pairs) assert.equal((await curlText(flags, url(engine, pool), ['x-wait: throw'])).status, 500, name);
    assert.deepEqual(seen, []);
  });

  it('a body transform rewrites the streamed response, and the edge frames the new length', async () => {
    for (const { engine, flags, pool, name } of pairs) {
      const reply = await curlText(flags, url(engine, pool), ['x-upper: 1']);
      assert.equal(reply.status, 200, name);
      assert.match(reply.body, /^ORIGIN [A-D] GET $/, name);
      assert.equal(reply.headers['content-length'], undefined, name);
      if (flags[0] === '--http1.1') assert.equal(reply.headers['transfer-encoding'], 'chunked', name);
    }
  });

  it('a response filter sees the upstream head and may replace the response', async () => {
    for (const { engine, flags, pool, name } of pairs) {
      const plain = await curlText(flags, url(engine, pool, '/missing'), []);
      assert.equal(plain.status, 404, name);
      assert.match(plain.headers['x-upstream-said'], /^404 [a-d] backend$/, name);
      // response_headers.hide (default: server, x-powered-by) on every pair
      assert.equal(plain.headers.server, undefined, name);
      assert.equal(plain.headers['x-powered-by'], undefined, name);
      const replaced = await curlText(flags, url(engine, pool, '/missing'), ['x-replace: 1']);
      assert.equal(replaced.status, 200, name);
      assert.equal(replaced.body, 'replaced\n', name);
      assert.equal(replaced.headers['x-replaced'], '404', name);
      assert.equal(replaced.headers['content-length'], '9', name);
    }
  });

  it('a filter pins the backend (preferBackend), and per-request state reaches the response phase', async () => {
    for (const { engine, flags, pool, name } of pairs) {
      const backend = pool === 'h1' ? `127.0.0.1:${port('b')}` : `127.0.0.1:${port('d')}`;
      const expected = pool === 'h1' ? 'b' : 'd';
      for (let i = 0; i < 4; i++) {
        const reply = await curlText(flags, url(engine, pool, '/x?q=1'), [`x-prefer: ${backend}`, 'x-stash: kept', 'cookie: first=1', 'cookie: second=2']);
        assert.equal(reply.headers['x-origin'], expected, name);
        assert.equal(reply.headers['x-stashed'], `kept@to-${pool}?q=1`, name);
        // cookie() reads every Cookie field; HTTP/2 carries each cookie in its own field, and header('cookie')
        // joins them as one HTTP/1.1 line would (an HTTP/1.1 client's second Cookie line is its own field)
        assert.equal(reply.headers['x-second-cookie'], flags[0] === '--http1.1' ? '2 of first=1' : '2 of first=1; second=2', name);
      }
    }
  });
});
