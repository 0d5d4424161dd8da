// A TCP relay between the app and PostgreSQL, so a test can take "the database" away (close the relay and
// cut every connection) and bring it back on the same port, without touching the shared server. The
// port stays anchored (bound, not listening) from the first start() to release(), so while the relay is
// cut no other process can take it.
import net from 'node:net';
import { anchorPort, listenReusingPort, type PortAnchor } from '../../../support/ports.ts';

export class TcpRelay {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | undefined;
  #anchor: PortAnchor | undefined;
  port = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  /** Listens on its anchored port (the same port again after cut()). */
  async start(): Promise<number> {
    this.#anchor ??= await anchorPort();
    const server = net.createServer((downstream) => {
      const upstream = net.connect(this.#target);
      for (const socket of [downstream, upstream]) {
        this.#sockets.add(socket);
        socket.once('close', () => this.#sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      downstream.pipe(upstream).pipe(downstream);
      downstream.once('close', () => upstream.destroy());
      upstream.once('close', () => downstream.destroy());
    });
    await listenReusingPort(server, this.#anchor.host, this.#anchor.port);
    this.#server = server;
    this.port = this.#anchor.port;
    return this.port;
  }

  /** Stops listening and resets every relayed connection: the database is gone for the app. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.resetAndDestroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** cut(), then gives the port back. */
  async release(): Promise<void> {
    await this.cut();
    await this.#anchor?.release();
    this.#anchor = undefined;
  }
}
