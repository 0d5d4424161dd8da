// The `compress` filter end to end on every client × pool pair: curl --compressed decodes each encoding,
// a client without Accept-Encoding gets identity, q-values choose, an encoded upstream body is left alone,
// small bodies stay as they are, a malformed Accept-Encoding gets identity (not a 4xx), and a streamed body
// is flushed: its first line reaches the client while the origin still holds the rest.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import zlib from 'node:zlib';
import { curl, pairs, startEdge, type Edge, type OriginRequest, type OriginResponse, type Pair } from './pairs.ts';

const json = JSON.stringify({ items: Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] })) });
const gzipped = zlib.gzipSync(Buffer.from('already gzipped by the origin '.repeat(100)));

describe('compress filter, end to end', { timeout: 180_000 }, () => {
  let edge: Edge;
  /** Streams waiting for the test to let them finish. */
  const held = new Map<string, () => void>();

  function origin(request: OriginRequest, response: OriginResponse): void {
    const [, kind] = request.url.split('/');
    switch (kind) {
      case 'json':
        response.head(200, { 'content-type': 'application/json', 'content-length': String(json.length), etag: '"j1"' });
        return response.end(json);
      case 'small':
        response.head(200, { 'content-type': 'text/plain', 'content-length': '11' });
        return response.end('small body\n');
      case 'encoded':
        response.head(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': String(gzipped.length) });
        return response.end(gzipped);
      case 'stream':
        // the first line now, the rest when the test says so
        response.head(200, { 'content-type': 'application/x-ndjson' });
        response.write('{"line":1}\n');
        held.set(request.url, () => response.end('{"line":2}\n'));
        return;
      default:
        response.head(404, { 'content-type': 'text/plain' });
        return response.end('no such case\n');
    }
  }

  before(async () => {
    edge = await startEdge(origin, '[ { compress: { min_size: 1kb } } ]');
  });
  after(() => edge.close());

  it('compresses with each encoding (curl --compressed decodes it), weak ETag, Vary, no Content-Length', async () => {
    for (const pair of pairs) {
      for (const encoding of ['zstd', 'br', 'gzip']) {
        const reply = await curl([...pair.flags, '--compressed'], edge.url(pair, '/json'), [`accept-encoding: ${encoding}`]);
        assert.equal(reply.status, 200, `${pair.name} ${encoding}`);
        assert.equal(reply.headers['content-encoding'], encoding, `${pair.name} ${encoding}`);
        assert.equal(reply.body.toString(), json, `${pair.name} ${encoding}`);
        assert.equal(reply.headers.etag, 'W/"j1"', `${pair.name} ${encoding}`);
        assert.equal(reply.headers.vary, 'Accept-Encoding', `${pair.name} ${encoding}`);
        assert.equal(reply.headers['content-length'], undefined, `${pair.name} ${encoding}`);
      }
      const raw = await curl(pair.flags, edge.url(pair, '/json'), ['accept-encoding: gzip']);
      assert.ok(raw.body.length < json.length / 4, `${pair.name}: ${raw.body.length} bytes on the wire for ${json.length}`);
      assert.equal(zlib.gunzipSync(raw.body).toString(), json, pair.name);
    }
  });

  it('a client without Accept-Encoding, or with a malformed one, gets identity (and Vary)', async () => {
    for (const pair of pairs) {
      for (const fields of [[], ['accept-encoding: gzip;q=nonsense'], ['accept-encoding: identity'], ['accept-encoding: gzip;q=0, br;q=0, zstd;q=0'], ['accept-encoding: {}']]) {
        const reply = await curl(pair.flags, edge.url(pair, '/json'), fields);
        assert.equal(reply.status, 200, `${pair.name} ${fields}`);
        assert.equal(reply.headers['content-encoding'], undefined, `${pair.name} ${fields}`);
        assert.equal(reply.body.toString(), json, `${pair.name} ${fields}`);
        assert.equal(reply.headers['content-length'], String(json.length), `${pair.name} ${fields}`);
        assert.equal(reply.headers.vary, 'Accept-Encoding', `${pair.name} ${fields}`);
      }
    }
  });

  it('chooses by q-value, the configured order breaking ties', async () => {
    for (const pair of pairs) {
      const cases: [string, string][] = [
        ['gzip;q=0.9, br;q=0.5', 'gzip'],
        ['gzip, br', 'br'],
        ['*;q=0.5, zstd;q=0', 'br'],
        ['deflate, gzip;q=0.1', 'gzip'],
      ];
      for (const [header, expected] of cases) {
        const reply = await curl(pair.flags, edge.url(pair, '/json'), [`accept-encoding: ${header}`]);
        assert.equal(reply.headers['content-encoding'], expected, `${pair.name} ${header}`);
      }
    }
  });

  it('leaves an already-encoded body and a small body untouched', async () => {
    for (const pair of pairs) {
      const encoded = await curl(pair.flags, edge.url(pair, '/encoded'), ['accept-encoding: br, gzip']);
      assert.equal(encoded.headers['content-encoding'], 'gzip', pair.name);
      assert.deepEqual(encoded.body, gzipped, pair.name);
      const small = await curl(pair.flags, edge.url(pair, '/small'), ['accept-encoding: gzip']);
      assert.equal(small.headers['content-encoding'], undefined, pair.name);
      assert.equal(small.body.toString(), 'small body\n', pair.name);
      assert.equal(small.headers.vary, 'Accept-Encoding', pair.name);
    }
  });

  it('flushes a streamed body: the first line arrives decoded before the origin ends', async () => {
    for (const pair of pairs) {
      for (const encoding of ['zstd', 'br', 'gzip'] as const) {
        const path = `/stream/${pair.tag}-${encoding}`;
        const decoder = encoding === 'gzip' ? zlib.createGunzip() : encoding === 'br' ? zlib.createBrotliDecompress() : zlib.createZstdDecompress();
        let text = '';
        const firstLine = new Promise<void>((resolve) => decoder.on('data', (chunk: Buffer) => ((text += chunk.toString()), text.includes('{"line":1}\n') && resolve())));
        const done = new Promise<void>((resolve) => decoder.on('end', resolve));
        const { contentEncoding } = await openStream(pair, edge.url(pair, path), encoding, (chunk) => decoder.write(chunk), () => decoder.end());
        assert.equal(contentEncoding, encoding, pair.name);
        await firstLine;
        assert.equal(text, '{"line":1}\n', `${pair.name} ${encoding}: only the first line so far`);
        held.get(path)!();
        await done;
        assert.equal(text, '{"line":1}\n{"line":2}\n', `${pair.name} ${encoding}`);
      }
    }
  });
});

/** A GET with node's own clients (HTTP/1.1 or HTTP/2 prior knowledge) that hands each body chunk over as it arrives. */
function openStream(pair: Pair, url: string, encoding: string, data: (chunk: Buffer) => void, end: () => void): Promise<{ contentEncoding: string | undefined }> {
  const target = new URL(url);
  if (pair.flags[0] === '--http1.1') {
    return new Promise((resolve, reject) => {
      const request = http.get(target, { headers: { 'accept-encoding': encoding }, agent: false }, (response) => {
        response.on('data', data);
        response.on('end', end);
        resolve({ contentEncoding: response.headers['content-encoding'] });
      });
      request.on('error', reject);
    });
  }
  return new Promise((resolve, reject) => {
    const session = http2.connect(target.origin);
    session.on('error', reject);
    const stream = session.request({ ':path': target.pathname, 'accept-encoding': encoding });
    stream.on('response', (headers) => resolve({ contentEncoding: headers['content-encoding'] as string | undefined }));
    stream.on('data', data);
    stream.on('end', () => {
      end();
      session.close();
    });
    stream.on('error', reject);
  });
}

describe('cache then compress on one route', { timeout: 120_000 }, () => {
  let edge: Edge;
  let asked = 0;
  before(async () => {
    edge = await startEdge((_request, response) => {
      asked++;
      response.head(200, { 'content-type': 'application/json', 'content-length': String(json.length), 'cache-control': 'max-age=60' });
      response.end(json);
    }, '[ { cache: {} }, { compress: {} } ]');
  });
  after(() => edge.close());

  it('stores the identity body: the miss goes out compressed, hits as stored', async () => {
    for (const pair of pairs) {
      const path = `/json/${pair.tag}`;
      const miss = await curl([...pair.flags, '--compressed'], edge.url(pair, path), ['accept-encoding: br']);
      assert.equal(miss.headers['content-encoding'], 'br', pair.name);
      assert.match(miss.headers['cache-status'], /stored/, pair.name);
      assert.equal(miss.body.toString(), json, pair.name);
      const hit = await curl([...pair.flags, '--compressed'], edge.url(pair, path), ['accept-encoding: br']);
      assert.match(hit.headers['cache-status'], /hit/, pair.name);
      assert.equal(hit.headers['content-encoding'], undefined, pair.name);
      assert.equal(hit.body.toString(), json, pair.name);
    }
    assert.equal(asked, pairs.length);
  });
});
