// `switchyard start` as a real process with https (self-signed) and h2c listeners: the CA path is logged,
// curl trusts it, HTTP/2 and HTTP/1.1 share the TLS port, and gRPC passes through the h2c listener.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import http2 from 'node:http2';
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { startEchoOrigin, type EchoOrigin } from '../../support/origins.ts';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { echoClientClass, startGrpcBackend, type GrpcBackend, type Msg } from '../grpc/grpc-backend.ts';

function run(command: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }));
  });
}

describe('switchyard start with https and h2c listeners', () => {
  let origin: EchoOrigin;
  let backend: GrpcBackend;
  let edge: RunningSwitchyard;

  before(async () => {
    origin = await startEchoOrigin({ name: 'web' });
    backend = await startGrpcBackend('g', undefined, true);
    edge = await runSwitchyard(`
data_dir: ./data
pools:
  web: { backends: [ { address: "${origin.address}" } ] }
  echo: { protocol: grpc, health: { type: grpc, interval: 200ms }, backends: [ { address: "${backend.address}" } ] }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true, hsts: true }
    routes:
      - { match: { host: app.dev.test }, pool: web }
      - { match: { path_prefix: / }, pool: web }
  - name: grpc
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
      - { match: { path_prefix: /switchyard.test.Echo/ }, pool: echo }
`);
  });

  after(async () => {
    await edge?.stop();
    await origin?.close();
    await backend?.close();
  });

  it('logs where the self-signed CA is, and curl trusts it for HTTP/2 and HTTP/1.1', async () => {
    const ca = path.join(edge.dir, 'data', 'tls', 'ca', 'ca.pem');
    const logged = await edge.waitForLine((line) => line.ca === ca);
    assert.match(String(logged.msg), /trust .*ca\.pem/);
    const port = edge.ready.listeners.web.port;
    for (const version of ['--http2', '--http1.1']) {
      const result = await run('curl', ['-sS', '-i', version, '--cacert', ca, '--resolve', `app.dev.test:${port}:127.0.0.1`, `https://app.dev.test:${port}/x`]);
      assert.equal(result.code, 0, result.out);
      assert.match(result.out, version === '--http2' ? /^HTTP\/2 200/ : /^HTTP\/1\.1 200/);
      const body = JSON.parse(result.out.slice(result.out.indexOf('{')));
      assert.equal(body.headers['x-forwarded-proto'], 'https');
    }
  });

  it('passes a gRPC call through the h2c listener (pool health-checked with grpc.health.v1)', async () => {
    const Echo = echoClientClass();
    const client = new Echo(`127.0.0.1:${edge.ready.listeners.grpc.port}`, grpc.credentials.createInsecure());
    try {
      const reply = await new Promise<Msg>((resolve, reject) => (client.Unary as (m: unknown, cb: (e: Error | null, r: Msg) => void) => void)({ text: 'p', count: 1 }, (e, r) => (e ? reject(e) : resolve(r))));
      assert.equal(reply.text, 'g:p');
    } finally {
      client.close();
    }
  });

  it('on SIGTERM sends GOAWAY and lets the stream in flight finish', async () => {
    const ca = await readFile(path.join(edge.dir, 'data', 'tls', 'ca', 'ca.pem'));
    const client = http2.connect(`https://localhost:${edge.ready.listeners.web.port}`, { ca });
    try {
      const served = origin.requests();
      const goaway = new Promise<number>((resolve) => client.once('goaway', (code: number) => resolve(code)));
      const request = client.request({ ':path': '/slow?delay=700' });
      const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
        let body = '';
        let status = 0;
        request.on('response', (headers) => (status = Number(headers[':status'])));
        request.on('data', (chunk: Buffer) => (body += chunk));
        request.on('end', () => resolve({ status, body }));
        request.on('error', reject);
      });
      await new Promise((resolve) => request.once('ready', resolve));
      // wait until the origin has the request, so it is truly in flight when the signal comes
      for (let i = 0; i < 100 && origin.requests() === served; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      edge.process.kill('SIGTERM');
      assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
      const { status, body } = await response;
      assert.equal(status, 200);
      assert.equal(JSON.parse(body).url, '/slow?delay=700');
    } finally {
      client.close();
    }
  });
});
