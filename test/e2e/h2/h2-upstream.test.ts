// HTTP/2 to upstreams (pools with protocol h2c and h2): many downstream streams multiplexed on few
// upstream sessions, each routed on its own; TLS to the upstream verified against tls.ca; flow control
// that keeps a slow stream from blocking a fast one on the same connections.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { startEdge, type Edge } from './edge.ts';
import { startH2Origin, type H2Origin } from './h2-origin.ts';
import { makeCert, tempDir } from '../tls/support.ts';

function run(command: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 20_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }));
  });
}

describe('h2 upstreams', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  let origins: H2Origin[];
  let secureOrigin: H2Origin;
  let refusing: H2Origin;
  let edge: Edge;
  let caPath: string;

  before(async () => {
    dir = await tempDir('sy-h2up-');
    const cert = await makeCert(dir.dir, 'origin', ['origin.internal']);
    caPath = cert.caCert;
    origins = [await startH2Origin('a'), await startH2Origin('b'), await startH2Origin('c')];
    secureOrigin = await startH2Origin('secure', { cert: await readFile(cert.cert), key: await readFile(cert.key) });
    refusing = await startH2Origin('refusing', undefined, true);
    edge = await startEdge(
      `
pools:
  a: { protocol: h2c, backends: [ { address: "${origins[0].address}" } ] }
  b: { protocol: h2c, backends: [ { address: "${origins[1].address}" } ] }
  c: { protocol: h2c, backends: [ { address: "${origins[2].address}" } ] }
  shedding:
    protocol: h2c
    retries: { attempts: 1 }
    backends: [ { address: "${refusing.address}" }, { address: "${origins[0].address}" } ]
  secure:
    protocol: h2
    tls: { ca: ${caPath}, servername: origin.internal }
    backends: [ { address: "${secureOrigin.address}" } ]
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true, hsts: true }
    routes:
      - { match: { path_prefix: /a/ }, pool: a, strip_prefix: true }
      - { match: { path_prefix: /b/ }, pool: b, strip_prefix: true }
      - { match: { path_prefix: /c/ }, pool: c, strip_prefix: true }
      - { match: { path_prefix: /secure/ }, pool: secure, strip_prefix: true }
      - { match: { path_prefix: /shed/ }, pool: shedding, strip_prefix: true }
`,
      { baseDir: dir.dir, dataDir: dir.dir },
    );
  });

  after(async () => {
    await edge?.close();
    for (const origin of [...(origins ?? []), secureOrigin, refusing]) await origin?.close();
    await dir?.remove();
  });

  it('routes each stream of one connection on its own (nghttp, 30 streams, three pools)', async () => {
    const urls = Array.from({ length: 30 }, (_, i) => `https://localhost:${edge.port}/${'abc'[i % 3]}/item${i}`);
    const before = origins.map((origin) => origin.streams());
    const result = await run('nghttp', ['-n', '-v', ...urls]);
    assert.equal(result.code, 0, result.out.slice(-2000));
    assert.equal((result.out.match(/recv \(stream_id=\d+\) :status: 200/g) ?? []).length, 30);
    assert.equal((result.out.match(/Connected/g) ?? []).length, 1, 'one downstream connection');
    origins.forEach((origin, i) => assert.equal(origin.streams() - before[i], 10, `origin ${'abc'[i]} got its 10 streams`));
    assert.ok(origins.every((origin) => origin.sessions() === 1), 'one multiplexed upstream session per backend');
  });

  it('serves curl --http2 with forwarded headers, HSTS and the path rewritten', async () => {
    const result = await run('curl', ['-sS', '-i', '--http2', '--cacert', edge.listener.caPath!, '-H', 'x-forwarded-for: 6.6.6.6', `https://localhost:${edge.port}/a/hello?x=1`]);
    assert.match(result.out, /^HTTP\/2 200/);
    assert.match(result.out, /strict-transport-security: max-age=31536000/);
    const body = JSON.parse(result.out.slice(result.out.indexOf('{')));
    assert.equal(body.path, '/hello?x=1');
    assert.equal(body.headers['x-forwarded-for'], '127.0.0.1', 'an untrusted client cannot forge the chain');
    assert.equal(body.headers['x-forwarded-proto'], 'https');
    assert.equal(body.headers['x-real-ip'], '127.0.0.1');
    // the listener's request ids, as on every other pair (a per-process prefix and a counter)
    assert.match(body.headers['x-request-id'], /^[0-9a-f]{16}-[0-9a-z]+$/);
  });

  it('re-encrypts to an h2 upstream verified with tls.ca and servername', async () => {
    const result = await run('curl', ['-sS', '--http2', '--cacert', edge.listener.caPath!, `https://localhost:${edge.port}/secure/x`]);
    assert.equal(JSON.parse(result.out).origin, 'secure');
  });

  it('sends a stream the upstream refused (REFUSED_STREAM) to the next backend', async () => {
    const before = refusing.streams();
    for (let i = 0; i < 4; i++) {
      const result = await run('curl', ['-sS', '--http2', '--cacert', edge.listener.caPath!, `https://localhost:${edge.port}/shed/r${i}`]);
      assert.equal(JSON.parse(result.out).origin, 'a', result.out);
    }
    assert.ok(refusing.streams() - before >= 1, 'the refusing backend was tried');
  });

  it('h2load: 4 connections × 10 streams, no failures', async () => {
    const result = await run('h2load', ['-n', '400', '-c', '4', '-m', '10', `https://127.0.0.1:${edge.port}/a/load`]);
    assert.match(result.out, /requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed/, result.out);
    assert.match(result.out, /Application protocol: h2/);
  });

  it('flow control: a stream whose reader stalls does not hold up another stream on the same connections', async () => {
    const client = http2.connect(`https://localhost:${edge.port}`, { ca: await readFile(edge.listener.caPath!) });
    try {
      const slow = client.request({ ':path': '/a/bytes/8388608' });
      let slowBytes = 0;
      slow.on('data', (chunk: Buffer) => {
        slowBytes += chunk.length;
        slow.pause(); // stops reading after the first chunk: its window stays shut
      });
      await new Promise((resolve) => slow.once('response', resolve));
      const fast = client.request({ ':path': '/a/bytes/2097152' });
      let fastBytes = 0;
      fast.on('data', (chunk: Buffer) => (fastBytes += chunk.length));
      await new Promise((resolve, reject) => {
        fast.once('end', resolve);
        fast.once('error', reject);
      });
      assert.equal(fastBytes, 2_097_152, 'the fast stream finished');
      assert.ok(slowBytes < 8_388_608, 'the slow stream is still held back');
      slow.close();
    } finally {
      client.close();
    }
  });
});
