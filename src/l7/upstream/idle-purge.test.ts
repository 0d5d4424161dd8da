// keepalive.max_idle: auto against a real TCP server on loopback: every released connection is kept (a
// burst's connections are there for the next burst), and each purge closes half of those that stayed idle
// through the whole period, so the pool follows demand up at once and decays after it in steps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { ChunkPool } from '../chunk-writer.ts';
import { DEFAULT_UPSTREAM_SETTINGS, UpstreamConnector, type UpstreamConnection, type UpstreamOwner } from './connector.ts';

let server: net.Server;
let port: number;
const sockets = new Set<net.Socket>();

before(async () => {
  server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

class Owner implements UpstreamOwner {
  conn: UpstreamConnection | null = null;
  readonly connected: Promise<void>;
  private onConnected!: () => void;

  constructor() {
    this.connected = new Promise((resolve) => (this.onConnected = resolve));
  }
  upstreamConnected(conn: UpstreamConnection): void {
    this.conn = conn;
    this.onConnected();
  }
  upstreamAssigned(conn: UpstreamConnection): void {
    this.conn = conn;
  }
  upstreamClosed(): void {}
  upstreamData(): void {}
  upstreamEnd(): void {}
  upstreamDrain(): void {}
}

test('max_idle auto keeps a burst\'s connections, then purges half of the idle surplus per period', async () => {
  const connector = new UpstreamConnector(Buffer.alloc(64 * 1024), new ChunkPool(), (err) => assert.fail(String(err)));
  const settings = { ...DEFAULT_UPSTREAM_SETTINGS, idleTimeout: 600_000 };
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
