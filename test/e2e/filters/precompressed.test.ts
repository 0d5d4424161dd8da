// `static: { precompressed }` end to end: curl over HTTP/1.1 and HTTP/2 (both engines) gets the `.zst` /
// `.br` / `.gz` sibling it accepts best, decoded by curl --compressed to the original's bytes; a client
// without Accept-Encoding gets the original; every answer varies on Accept-Encoding.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfigText } from '../../../src/config/index.ts';
import { silentLogger, systemClock } from '../../../src/core/index.ts';
import { buildPools } from '../../../src/pool/index.ts';
import { createH2Listener, type H2Listener } from '../../../src/h2/index.ts';
import { curl } from './pairs.ts';

const script = `console.log(${JSON.stringify('switchyard '.repeat(400))});\n`;

describe('static precompressed siblings', { timeout: 60_000 }, () => {
  let dir: string;
  const listeners: H2Listener[] = [];
  const ports: Record<string, number> = {};

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-precompressed-'));
    await mkdir(path.join(dir, 'public'));
    await writeFile(path.join(dir, 'public', 'app.js'), script);
    await writeFile(path.join(dir, 'public', 'app.js.br'), zlib.brotliCompressSync(script));
    await writeFile(path.join(dir, 'public', 'app.js.gz'), zlib.gzipSync(script));
    await writeFile(path.join(dir, 'public', 'app.js.zst'), zlib.zstdCompressSync(Buffer.from(script)));
    await writeFile(path.join(dir, 'public', 'only.css'), 'body { color: red }\n');
    for (const engine of ['auto', 'node']) {
      const yaml = `listeners:
  - name: site
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: ${engine} }
    access_log: false
    routes:
      - { match: { path_prefix: /br-gz/ }, strip_prefix: /br-gz, static: { root: ./public, precompressed: [br, gzip] } }
      - { match: { path_prefix: / }, static: { root: ./public, precompressed: true } }
`;
      const { config } = parseConfigText(yaml, 'site.yaml', dir);
      const listener = createH2Listener(config.listeners[0], { pools: buildPools({}, { clock: systemClock }), logger: silentLogger(), accessLog: silentLogger(), clock: systemClock, dataDir: dir, baseDir: dir });
      listeners.push(listener);
      await listener.start();
      ports[engine] = listener.address().port;
    }
  });
  after(async () => {
    for (const listener of listeners) await listener.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const clients = [
    { name: 'HTTP/1.1', engine: 'auto', flags: ['--http1.1'] },
    { name: 'HTTP/2 (codec)', engine: 'auto', flags: ['--http2-prior-knowledge'] },
    { name: 'HTTP/2 (node engine)', engine: 'node', flags: ['--http2-prior-knowledge'] },
  ];

  it('serves the accepted sibling, which curl decodes to the original', async () => {
    for (const client of clients) {
      const base = `http://127.0.0.1:${ports[client.engine]}`;
      for (const [accept, expected] of [['zstd', 'zstd'], ['br', 'br'], ['gzip', 'gzip'], ['gzip, br, zstd', 'zstd'], ['br;q=0.5, gzip', 'gzip']]) {
        const reply = await curl([...client.flags, '--compressed'], `${base}/app.js`, [`accept-encoding: ${accept}`]);
        assert.equal(reply.status, 200, `${client.name} ${accept}`);
        assert.equal(reply.headers['content-encoding'], expected, `${client.name} ${accept}`);
        assert.equal(reply.headers['content-type'], 'text/javascript; charset=utf-8', client.name);
        assert.equal(reply.headers.vary, 'Accept-Encoding', client.name);
        assert.equal(reply.body.toString(), script, `${client.name} ${accept}`);
      }
      const listed = await curl([...client.flags, '--compressed'], `${base}/br-gz/app.js`, ['accept-encoding: zstd, gzip']);
      assert.equal(listed.headers['content-encoding'], 'gzip', `${client.name}: zstd is not offered on that route`);
    }
  });

  it('gives the original without Accept-Encoding, with a malformed one, or when no sibling exists', async () => {
    for (const client of clients) {
      const base = `http://127.0.0.1:${ports[client.engine]}`;
      for (const fields of [[], ['accept-encoding: br;q=2'], ['accept-encoding: identity']]) {
        const reply = await curl(client.flags, `${base}/app.js`, fields);
        assert.equal(reply.status, 200, `${client.name} ${fields}`);
        assert.equal(reply.headers['content-encoding'], undefined, `${client.name} ${fields}`);
        assert.equal(reply.headers['content-length'], String(script.length), `${client.name} ${fields}`);
        assert.equal(reply.body.toString(), script, `${client.name} ${fields}`);
      }
      const css = await curl(client.flags, `${base}/only.css`, ['accept-encoding: br, gzip']);
      assert.equal(css.headers['content-encoding'], undefined, client.name);
      assert.equal(css.body.toString(), 'body { color: red }\n', client.name);
    }
  });
});
