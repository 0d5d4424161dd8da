// gRPC through the edge with @grpc/grpc-js on both sides: every call shape, error statuses with custom
// trailers, deadlines carried upstream, UNAVAILABLE in trailers-only form when no backend answers, and
// TLS on both hops (ALPN h2 at the edge; CA verification and SNI to the upstream).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { refusedPort } from '../../support/origins.ts';
import { startEdge, type Edge } from '../h2/edge.ts';
import { makeCert, tempDir } from '../tls/support.ts';
import { echoClientClass, startGrpcBackend, type EchoClient, type GrpcBackend, type Msg } from './grpc-backend.ts';

const Echo = echoClientClass();

function unary(client: EchoClient, msg: Partial<Msg>, options: grpc.CallOptions = {}) {
  return new Promise<{ error: grpc.ServiceError | null; reply?: Msg; trailers?: grpc.Metadata; elapsed: number }>((resolve) => {
    const started = Date.now();
    let trailers: grpc.Metadata | undefined;
    const call = (client.Unary as (m: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Msg) => void) => grpc.ClientUnaryCall)(
      { text: '', count: 0, ...msg },
      new grpc.Metadata(),
      options,
      (error, reply) => setImmediate(() => resolve({ error, reply, trailers: trailers ?? (error?.metadata as grpc.Metadata | undefined), elapsed: Date.now() - started })),
    );
    call.on('status', (status: grpc.StatusObject) => (trailers = status.metadata));
  });
}

function collect<T>(call: grpc.ClientReadableStream<T>): Promise<{ items: T[]; status: grpc.StatusObject; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const items: T[] = [];
    let error: grpc.ServiceError | undefined;
    call.on('data', (item: T) => items.push(item));
    call.on('error', (err: grpc.ServiceError) => (error = err));
    call.on('status', (status: grpc.StatusObject) => setImmediate(() => resolve({ items, status, error })));
  });
}

describe('grpc through an h2c listener', () => {
  let dir: { dir: string; remove: () => Promise<void> };
  let backends: GrpcBackend[];
  let edge: Edge;
  let client: EchoClient;

  before(async () => {
    dir = await tempDir('sy-grpc-');
    backends = [await startGrpcBackend('b1'), await startGrpcBackend('b2')];
    const dead = await refusedPort();
    edge = await startEdge(
      `
pools:
  echo:
    protocol: grpc
    backends: [ { address: "${backends[0].address}" }, { address: "${backends[1].address}" } ]
  nobody:
    protocol: grpc
    retries: { attempts: 1 }
    backends: [ { address: "127.0.0.1:${dead}" } ]
listeners:
  - name: grpc
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
      - { match: { path_prefix: /switchyard.test.Echo/, headers: { x-pool: nobody } }, pool: nobody }
      - { match: { path_prefix: /switchyard.test.Echo/ }, pool: echo }
`,
      { baseDir: dir.dir, dataDir: dir.dir },
    );
    client = new Echo(`127.0.0.1:${edge.port}`, grpc.credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await edge?.close();
    for (const backend of backends ?? []) await backend.close();
    await dir?.remove();
  });

  it('unary: reply, status OK and custom trailers pass through; calls are balanced', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const result = await unary(client, { text: 'hi', count: i });
      assert.equal(result.error, null);
      assert.equal(result.reply!.count, i + 1);
      assert.match(result.reply!.text, /^b[12]:hi$/);
      assert.deepEqual(result.trailers!.get('x-trailer'), ['custom']);
      seen.add(String(result.trailers!.get('x-backend')[0]));
    }
    assert.deepEqual([...seen].sort(), ['b1', 'b2']);
    const line = edge.accessLines.at(-1)!;
    assert.equal(line.protocol, 'h2');
    assert.equal(line.pool, 'echo');
    assert.equal(line.grpc_status, '0');
  });

  it('server streaming: every message, then status and trailers', async () => {
    const call = (client.ServerStream as (m: unknown) => grpc.ClientReadableStream<Msg>)({ text: 's', count: 5 });
    const { items, status } = await collect(call);
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(items.map((m) => m.count), [0, 1, 2, 3, 4]);
    assert.match(String(status.metadata.get('x-backend')[0]), /^b[12]$/);
  });

  it('client streaming: all messages reach the backend, one reply comes back', async () => {
    const reply = await new Promise<Msg>((resolve, reject) => {
      const call = (client.ClientStream as (cb: (e: Error | null, r: Msg) => void) => grpc.ClientWritableStream<Msg>)((err, r) => (err ? reject(err) : resolve(r)));
      for (const text of ['a', 'b', 'c']) call.write({ text, count: 0 });
      call.end();
    });
    assert.match(reply.text, /^b[12]:a,b,c$/);
    assert.equal(reply.count, 3);
  });

  it('bidirectional: each message is answered before the next is sent (full duplex)', async () => {
    const call = (client.Bidi as () => grpc.ClientDuplexStream<Msg, Msg>)();
    const replies: Msg[] = [];
    for (let i = 1; i <= 3; i++) {
      const reply = new Promise<Msg>((resolve) => call.once('data', resolve));
      call.write({ text: `m${i}`, count: i });
      replies.push(await reply);
    }
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.end();
    assert.deepEqual(replies.map((r) => r.count), [2, 4, 6]);
    assert.equal((await status).code, grpc.status.OK);
  });

  it('error statuses keep their code, message and custom trailers', async () => {
    const result = await unary(client, { text: 'fail:5:no such thing' });
    assert.equal(result.error?.code, grpc.status.NOT_FOUND);
    assert.equal(result.error?.details, 'no such thing');
    assert.deepEqual(result.error?.metadata.get('x-trailer'), ['custom']);
    const streamed = await collect((client.ServerStream as (m: unknown) => grpc.ClientReadableStream<Msg>)({ text: 'fail:9:precondition', count: 2 }));
    assert.equal(streamed.status.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(streamed.items.length, 2, 'messages before the error still arrive');
  });

  it('honours the deadline: grpc-timeout goes upstream and the call ends with DEADLINE_EXCEEDED', async () => {
    const deadline = Date.now() + 300;
    const result = await unary(client, { text: 'sleep:3000' }, { deadline });
    assert.equal(result.error?.code, grpc.status.DEADLINE_EXCEEDED);
    const seen = Math.min(...backends.map((backend) => backend.lastDeadline()));
    assert.ok(Number.isFinite(seen) && seen <= deadline + 50, 'the backend got the remaining time as grpc-timeout');
    assert.ok(result.elapsed < 2000, `ended after ${result.elapsed}ms`);
  });

  it('answers UNAVAILABLE (14) in trailers-only form when no backend can be reached', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-pool', 'nobody');
    const result = await new Promise<grpc.ServiceError | null>((resolve) => {
      (client.Unary as (m: unknown, md: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void) => void)({ text: 'x' }, metadata, (err) => resolve(err));
    });
    assert.equal(result?.code, grpc.status.UNAVAILABLE);
    // on the wire: one HEADERS frame with END_STREAM carrying :status 200 and grpc-status 14, no HTML
    const body = Buffer.from([0, 0, 0, 0, 0]).toString('latin1');
    const wire = await new Promise<string>((resolve) => {
      execFile('nghttp', ['-v', '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-H', 'x-pool: nobody', '-d', '-', `http://127.0.0.1:${edge.port}/switchyard.test.Echo/Unary`], { timeout: 10_000 }, (_e, stdout) => resolve(stdout)).stdin!.end(body, 'latin1');
    });
    assert.match(wire, /recv \(stream_id=\d+\) grpc-status: 14/);
    assert.match(wire, /recv HEADERS frame <length=\d+, flags=0x05/, 'END_STREAM | END_HEADERS: trailers-only');
    assert.doesNotMatch(wire, /recv DATA frame/);
  });
});

describe('grpc over TLS on both hops', () => {
  it('terminates TLS (ALPN h2) and re-encrypts to a TLS gRPC backend verified with tls.ca and servername', async (t) => {
    const dir = await tempDir('sy-grpc-tls-');
    t.after(() => dir.remove());
    const backendCert = await makeCert(dir.dir, 'backend', ['backend.internal']);
    const backend = await startGrpcBackend(
      'tls-backend',
      grpc.ServerCredentials.createSsl(null, [{ cert_chain: await readFile(backendCert.cert), private_key: await readFile(backendCert.key) }], false),
    );
    t.after(() => backend.close());
    const edge = await startEdge(
      `
pools:
  secure:
    protocol: grpc
    tls: { ca: tls/ca/ca.pem, servername: backend.internal }
    backends: [ { address: "${backend.address}" } ]
  wrongname:
    protocol: grpc
    tls: { ca: tls/ca/ca.pem, servername: other.internal }
    retries: { attempts: 0 }
    backends: [ { address: "${backend.address}" } ]
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: https
    tls: { self_signed: true }
    routes:
      - { match: { path_prefix: /switchyard.test.Echo/, headers: { x-pool: wrongname } }, pool: wrongname }
      - { match: { path_prefix: /switchyard.test.Echo/ }, pool: secure }
`,
      { baseDir: dir.dir, dataDir: dir.dir },
    );
    t.after(() => edge.close());
    const ca = await readFile(edge.listener.caPath!);
    const client = new Echo(`localhost:${edge.port}`, grpc.credentials.createSsl(ca));
    t.after(() => client.close());
    const ok = await unary(client, { text: 'secure', count: 1 });
    assert.equal(ok.error, null);
    assert.equal(ok.reply!.text, 'tls-backend:secure');

    const metadata = new grpc.Metadata();
    metadata.set('x-pool', 'wrongname');
    const refused = await new Promise<grpc.ServiceError | null>((resolve) => {
      (client.Unary as (m: unknown, md: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void) => void)({ text: 'x' }, metadata, (err) => resolve(err));
    });
    assert.equal(refused?.code, grpc.status.UNAVAILABLE, 'a backend whose certificate does not match servername is not used');
    assert.match(refused!.details, /altname|certificate|Hostname/i);
  });
});
