// The connector against real servers on loopback. TLS side: an owner that acquires while the pool's CA is
// still being read waits in the queue and is connected once it is; connections are shared only between
// clients with the same key; an unreadable CA fails the connect with its reason. Idle pool: with
// keepalive.max_idle auto every released connection is kept (a burst's connections are there for the
// next burst), and each purge closes half of those that stayed idle through the whole period.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net, { type AddressInfo } from 'node:net';
import { ensureSelfSigned, UpstreamTlsClient } from '../../tls/index.ts';
import { ChunkPool } from '../chunk-writer.ts';
import { DEFAULT_UPSTREAM_SETTINGS, QUEUED, UpstreamConnector, type UpstreamConnection, type UpstreamOwner } from './connector.ts';
import type { UpstreamSettings } from '../types.ts';

let dir: string;
let server: tls.Server;
let port: number;
const sockets = new Set<tls.TLSSocket>();
/** Resolves with the SNI of the next connection the server completes (it may finish after the client). */
let nextServername: Promise<string>;
let gotServername: (name: string) => void;
const expectConnection = (): void => {
  nextServername = new Promise((resolve) => (gotServername = resolve));
};

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sy-connector-'));
  const pair = await ensureSelfSigned(dir, 'origin', ['a.internal', 'b.internal']);
  server = tls.createServer({ cert: await readFile(pair.cert), key: await readFile(pair.key) }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    gotServername(String(socket.servername));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

/** Records what the connector tells it; `connected` resolves on upstreamConnected, `closed` on upstreamClosed. */
class Owner implements UpstreamOwner {
  conn: UpstreamConnection | null = null;
  readonly connected: Promise<void>;
  readonly closed: Promise<Error | undefined>;
  private onConnected!: () => void;
  private onClosed!: (error: Error | undefined) => void;

  constructor() {
    this.connected = new Promise((resolve) => (this.onConnected = resolve));
    this.closed = new Promise((resolve) => (this.onClosed = resolve));
  }

  upstreamConnected(conn: UpstreamConnection): void {
    this.conn = conn;
    this.onConnected();
  }
  upstreamAssigned(conn: UpstreamConnection): void {
    this.conn = conn;
  }
  upstreamClosed(error: Error | undefined): void {
    this.onClosed(error);
  }
  upstreamData(): void {}
  upstreamEnd(): void {}
  upstreamDrain(): void {}
}

function setup(servername: string, ca = 'tls/ca/ca.pem'): { connector: UpstreamConnector; settings: UpstreamSettings; client: UpstreamTlsClient } {
  const connector = new UpstreamConnector(Buffer.alloc(64 * 1024), new ChunkPool(), (err) => assert.fail(String(err)));
  const client = new UpstreamTlsClient('app', { ca, servername, verify: true });
  return { connector, settings: { ...DEFAULT_UPSTREAM_SETTINGS, queueSize: 0, tls: client }, client };
}

test('an owner that comes while the CA is read waits (whatever the queue size) and connects once it is loaded', async () => {
  const { connector, settings, client } = setup('a.internal');
  const owner = new Owner();
  expectConnection();
  assert.equal(connector.acquire(`127.0.0.1:${port}`, '127.0.0.1', port, settings, owner), QUEUED);
  await client.load(dir);
  await owner.connected;
  const socket = owner.conn!.socket as tls.TLSSocket;
  assert.equal(socket.authorized, true);
  assert.equal(socket.alpnProtocol, false, 'the test server offers no ALPN');
  assert.equal(await nextServername, 'a.internal');
  connector.release(owner.conn!, true, 0);
  connector.closeAll();
});

test('idle TLS connections are shared only between clients with the same key', async () => {
  const { connector, settings, client } = setup('a.internal');
  await client.load(dir);
  const id = `127.0.0.1:${port}`;
  const first = new Owner();
  expectConnection();
  const conn = connector.acquire(id, '127.0.0.1', port, settings, first) as UpstreamConnection;
  await first.connected;
  connector.release(conn, true, 0);
  // another pool with the same CA, server name and verification: its client has the same key
  const twin = new UpstreamTlsClient('other', { ca: 'tls/ca/ca.pem', servername: 'a.internal', verify: true });
  await twin.load(dir);
  assert.equal(connector.acquire(id, '127.0.0.1', port, { ...settings, tls: twin }, new Owner()), conn, 'same key: the idle connection');
  connector.release(conn, true, 0);
  const otherName = new UpstreamTlsClient('b', { ca: 'tls/ca/ca.pem', servername: 'b.internal', verify: true });
  await otherName.load(dir);
  const owner = new Owner();
  expectConnection();
  const fresh = connector.acquire(id, '127.0.0.1', port, { ...settings, tls: otherName }, owner);
  assert.notEqual(fresh, conn, 'another server name: a connection of its own');
  await owner.connected;
  assert.equal(await nextServername, 'b.internal');
  assert.equal(connector.idleCount(), 1);
  connector.release(owner.conn!, true, 0);
  connector.closeAll();
});

test('a CA that cannot be read fails the connect with its reason', async () => {
  const { connector, settings, client } = setup('a.internal', 'missing.pem');
  await client.load(dir);
  assert.match(client.error!.message, /pool app: cannot use tls\.ca missing\.pem: .*ENOENT/);
  const owner = new Owner();
  connector.acquire(`127.0.0.1:${port}`, '127.0.0.1', port, settings, owner);
  assert.equal(await owner.closed, client.error);
});

test('max_idle auto keeps a burst\'s connections, then purges half of the idle surplus per period', async (t) => {
  // a plain TCP backend: every released connection is kept, the sweep's purge decides what goes
  const plain = net.createServer((socket) => socket.on('error', () => undefined));
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => plain.close(() => resolve())));
  const port = (plain.address() as AddressInfo).port;
  const connector = new UpstreamConnector(Buffer.alloc(64 * 1024), new ChunkPool(), (err) => assert.fail(String(err)));
  const settings: UpstreamSettings = { ...DEFAULT_UPSTREAM_SETTINGS, idleTimeout: 600_000 };
  assert.equal(settings.maxIdle, Number.POSITIVE_INFINITY, 'auto is the default');
  const acquire = async (n: number): Promise<UpstreamConnection[]> =>
    Promise.all(
      Array.from({ length: n }, async () => {
        const owner = new Owner();
        const got = connector.acquire('b', '127.0.0.1', port, settings, owner);
        if (got !== null && typeof got === 'object') return got; // an idle one, handed over at once
        await owner.connected;
        return owner.conn!;
      }),
    );
  // a burst of 80 concurrent requests: all 80 connections stay, more than a fixed cap of 64 would keep
  const burst = await acquire(80);
  for (const conn of burst) connector.release(conn, true, 0);
  assert.equal(connector.idleCount(), 80);
  connector.sweep(1000); // the burst used every one: nothing was surplus
  assert.equal(connector.idleCount(), 80);

  // the next period needs 30 at once: 50 stayed idle throughout, half of them go
  const again = await acquire(30);
  for (const conn of again) connector.release(conn, true, 1500);
  connector.sweep(2000);
  assert.equal(connector.idleCount(), 55);
  // no demand: halves, period after period
  const left: number[] = [];
  for (let t = 3000; t <= 9000; t += 1000) {
    connector.sweep(t);
    left.push(connector.idleCount());
  }
  assert.deepEqual(left, [27, 13, 6, 3, 1, 0, 0]);
  // a sweep within the same period purges nothing more
  const fresh = await acquire(4);
  for (const conn of fresh) connector.release(conn, true, 9100);
  connector.sweep(9500);
  assert.equal(connector.idleCount(), 4);
  connector.closeAll();
});
