// HTTP/2 requests go upstream only in a form valid there: the :path is normalised as the HTTP/1.1 path is
// (dot segments removed, unreserved escapes decoded; encoded separators and climbs above the root
// refused with 400), on every engine and for both kinds of upstream (HTTP/1.1 pools through the L7
// exchange, HTTP/2 pools stream to stream). A recording origin shows the request line that arrived.
// Malformed fields (:method, :path, :authority, names, values) are in conformance.test.ts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startEdge, type Edge } from './edge.ts';
import { startH2Origin, type H2Origin } from './h2-origin.ts';
import { startRecordingOrigin, type RecordingOrigin } from '../../support/origins.ts';
import { tempDir } from '../tls/support.ts';

function request(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', reject);
    const req = client.request({ ':method': 'GET', ':path': path, ':authority': 'edge.test' });
    let body = '';
    let status = 0;
    req.on('response', (headers) => (status = Number(headers[':status'])));
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      client.close();
      resolve({ status, body });
    });
    req.on('error', reject);
    req.end();
  });
}

/** [label, http2.engine, a route to an h2c pool]. */
const listeners: [string, string, boolean][] = [
  ['codec', 'auto', false],
  ['codec, route to an h2c pool', 'auto', true],
  ['http2.engine: node', 'node', true],
];

for (const [name, engine, withH2Pool] of listeners) {
  describe(`h2 downgrade: path normalisation (${name})`, () => {
    let dir: { dir: string; remove: () => Promise<void> };
    let origin: RecordingOrigin;
    let h2: H2Origin;
    let edge: Edge;

    before(async () => {
      dir = await tempDir('sy-h2down-');
      origin = await startRecordingOrigin();
      h2 = await startH2Origin('h2');
      edge = await startEdge(
        `
pools:
  origin: { backends: [ { address: "${origin.address}" } ] }
  h2pool: { protocol: h2c, backends: [ { address: "${h2.address}" } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: ${engine} }
    routes:
${withH2Pool ? '      - { match: { path_prefix: /h2/ }, pool: h2pool }' : ''}
      - { match: { path_prefix: / }, pool: origin }
`,
        { baseDir: dir.dir, dataDir: dir.dir },
      );
      assert.equal((edge.listener.status() as { h2_engine: string }).h2_engine, engine === 'auto' ? 'codec' : 'node');
    });

    after(async () => {
      await edge.close();
      await origin.close();
      await h2.close();
      await dir.remove();
    });

    it('an HTTP/1.1 upstream receives the normalised path', async () => {
      for (const [sent, arrives] of [['/a/./b/../c?q=1', '/a/c?q=1'], ['/%61dmin/x', '/admin/x'], ['/h2/../plain', '/plain']]) {
        const response = await request(edge.port, sent);
        assert.equal(response.status, 200, sent);
        assert.match(origin.received(), new RegExp(`GET ${arrives.replace('?', '\\?')} HTTP/1\\.1\\r\\n`), sent);
      }
    });

    // only where the listener has an HTTP/2 pool to receive it
    if (withH2Pool) {
      it('an HTTP/2 upstream receives the normalised path, routed on it', async () => {
        const response = await request(edge.port, '/h2/x/../y?z=1');
        assert.equal(response.status, 200);
        assert.equal(JSON.parse(response.body).path, '/h2/y?z=1');
      });
    }

    it('refuses with 400 what the HTTP/1.1 path refuses, and nothing goes upstream', async () => {
      const before = origin.received().length;
      const streamsBefore = h2.streams();
      for (const path of ['/x/%2Fnever', '/../never', '/h2/%2Fnever', '/h2/../../never', '/x/%zznever']) {
        assert.equal((await request(edge.port, path)).status, 400, path);
      }
      assert.equal(origin.received().length, before);
      assert.equal(h2.streams(), streamsBefore);
    });
  });
}
