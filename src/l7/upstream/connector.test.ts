// The connector's TLS side against a real TLS server on loopback: an owner that acquires while the pool's
// CA is still being read waits in the queue and is connected once it is; connections are shared only
// between clients with the same key; an unreadable CA fails the connect with its reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
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
