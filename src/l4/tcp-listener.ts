// L4 TCP listener (`protocol: tcp`): bytes only, no parsing. Accept → connection limit → pick a backend
// (the pool's balancer with the client address, so ip_hash and consistent_hash:ip work) → connect
// (upstream_connect timeout, next backend on failure) → optional PROXY protocol header → pipe both ways
// with backpressure and an idle timeout (tunnel_idle) → one access-log line.
// Bytes are relayed from reused read buffers (relay.ts): accepted sockets are built on the raw handle
// with `onread`, as src/l7's listener does, and upstream sockets get `onread` from net.connect.
import net from 'node:net';
import type { ListenerConfig } from '../config/index.ts';
import { systemClock, type Clock, type Component, type Logger } from '../core/index.ts';
import type { BalanceInput, Lease, LeaseOutcome } from '../pool/index.ts';
import { ClientBalanceInput } from './balance-input.ts';
import { ACCEPT, ConnectionGate, READ_PROXY_HEADER, REFUSE, type ConnectionGateStatus } from '../listener/index.ts';
import { ReadBufferPool, Relay } from './relay.ts';
import { proxyHeaderV1, proxyHeaderV2 } from './proxy-protocol.ts';

/** The libuv TCP handle Node's net server accepts on (the methods used here). */
interface NativeHandle {
  onconnection: ((err: number, clientHandle: unknown) => void) | null;
  getpeername?(out: { address?: string }): number;
  setNoDelay?(on: boolean): number;
  close?(): void;
}

export interface L4Pool {
  readonly name: string;
  pick(input: BalanceInput, tried?: ReadonlySet<string>): Lease | undefined;
}

export interface TcpListenerDeps {
  pools: { get(name: string): L4Pool | undefined };
  accessLog: Logger;
  logger: Logger;
  clock?: Clock;
}

export interface TcpListenerStatus {
  name: string;
  address: { host: string; port: number } | undefined;
  connections: number;
  accepted: number;
  /** The pool the listener forwards to (the label of the counters below). */
  pool: string | undefined;
  /** Upstream connects that failed or timed out (each try, including those followed by another backend). */
  connect_failures: number;
  /** Connections closed because no backend was usable. */
  no_backend: number;
  /** Bytes read from / written to clients, counted when a tunnel closes. */
  bytes_in: number;
  bytes_out: number;
  filter: ConnectionGateStatus;
}

export class TcpListener implements Component {
  private config: ListenerConfig;
  private deps: TcpListenerDeps;
  private readonly clock: Clock;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private accepted = 0;
  private connectFailures = 0;
  private noBackend = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private drainWaiter: (() => void) | undefined;
  /** The listener layer's connection filters (src/listener): max_connections, PROXY protocol, access. */
  private readonly gate: ConnectionGate;
  /** Read buffers shared by this listener's tunnels (both directions). */
  private readonly buffers = new ReadBufferPool();

  constructor(config: ListenerConfig, deps: TcpListenerDeps) {
    this.config = config;
    this.gate = new ConnectionGate(config);
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
  }

  async start(): Promise<void> {
    const server = net.createServer({ noDelay: true, pauseOnConnect: true, allowHalfOpen: true }, (socket) => this.gate.admit(socket, (admitted) => this.accept(admitted, undefined)));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.config.listen.host, port: this.config.listen.port, reusePort: process.platform === 'linux' }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Accept on the raw handle so each client socket reads via `onread` into reused buffers. Falls back
    // to 'connection' events (Node's per-read buffers, pipe()) when the handle is not what we expect.
    const handle = (server as unknown as { _handle: NativeHandle | null })._handle;
    if (handle !== null && typeof handle.onconnection === 'function') {
      handle.onconnection = (err: number, clientHandle: unknown) => this.acceptHandle(err, clientHandle as NativeHandle);
    }
  }

  private acceptHandle(err: number, clientHandle: NativeHandle): void {
    if (err !== 0 && err !== undefined) return;
    const peer: { address?: string } = {};
    clientHandle.getpeername?.(peer);
    const verdict = this.server === undefined ? REFUSE : this.gate.screen(peer.address ?? '');
    if (verdict === REFUSE) {
      clientHandle.close?.();
      return;
    }
    clientHandle.setNoDelay?.(true);
    if (verdict === READ_PROXY_HEADER) {
      // the header is read through 'data' events; such a client stays on them (pipe() towards the upstream)
      const socket = new net.Socket({ handle: clientHandle as never, allowHalfOpen: true, readable: true, writable: true, pauseOnCreate: true } as unknown as net.SocketConstructorOpts);
      socket.once('close', this.gate.release);
      this.gate.readProxyHeader(socket, (admitted) => this.accept(admitted, undefined));
      return;
    }
    if (verdict !== ACCEPT) return;
    const inbound = new Relay(this.buffers);
    // created paused: nothing is read before the upstream is connected
    const socket = new net.Socket({ handle: clientHandle as never, allowHalfOpen: true, readable: true, writable: true, pauseOnCreate: true, onread: inbound.onread } as unknown as net.SocketConstructorOpts);
    socket.once('close', this.gate.release);
    this.accept(socket, inbound);
  }

  address(): { host: string; port: number } {
    const info = this.server?.address() as net.AddressInfo | null;
    return { host: this.config.listen.host, port: info?.port ?? this.config.listen.port };
  }

  status(): TcpListenerStatus {
    return {
      name: this.config.name,
      address: this.server ? this.address() : undefined,
      connections: this.sockets.size / 2,
      accepted: this.accepted,
      pool: this.config.pool,
      connect_failures: this.connectFailures,
      no_backend: this.noBackend,
      bytes_in: this.bytesIn,
      bytes_out: this.bytesOut,
      filter: this.gate.status(),
    };
  }

  updateConfig(config: ListenerConfig, pools: TcpListenerDeps['pools']): void {
    this.config = config;
    this.gate.update(config);
    this.deps = { ...this.deps, pools };
  }

  /** Stops accepting; open tunnels carry on until they end or the deadline passes, then are cut. */
  async drain(deadline: number): Promise<void> {
    this.server?.close();
    if (this.sockets.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.drainWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (this.sockets.size === 0) this.drainWaiter?.();
    });
  }

  /** `inbound`: the client's relay when it reads through `onread` (undefined: 'data' events, piped). */
  private accept(client: net.Socket, inbound: Relay | undefined): void {
    this.accepted++;
    this.track(client);
    client.on('error', () => undefined);
    const config = this.config;
    const pool = this.deps.pools.get(config.pool!);
    const started = this.clock.monotonic();
    const input = new ClientBalanceInput(client.remoteAddress ?? '');
    const tried = new Set<string>();
    const attempt = (): void => {
      const lease = pool?.pick(input, tried);
      if (!lease) {
        this.noBackend++;
        this.log(client, started, undefined, 'no_backend', 0, 0);
        client.destroy();
        return;
      }
      tried.add(lease.backend.id);
      const outbound = new Relay(this.buffers);
      // allowHalfOpen and onread are honoured by net.connect (Node's types leave onread out)
      const upstream = net.connect({ host: lease.backend.host, port: lease.backend.port, noDelay: true, allowHalfOpen: true, onread: outbound.onread } as net.NetConnectOpts);
      this.track(upstream);
      const connectTimer = setTimeout(() => upstream.destroy(new Error('connect timeout')), config.timeouts.upstream_connect);
      // Until 'connect', any error is a failed connect: count it against the backend and try the next one.
      upstream.once('error', (err) => {
        clearTimeout(connectTimer);
        this.connectFailures++;
        lease.release(err.message === 'connect timeout' ? 'timeout' : 'connect_error');
        if (!client.destroyed) attempt();
      });
      upstream.once('connect', () => {
        clearTimeout(connectTimer);
        upstream.removeAllListeners('error');
        // before the upstream's first read (Node starts it right after 'connect')
        this.pipe(client, upstream, lease, started, inbound, outbound);
      });
    };
    attempt();
  }

  private pipe(client: net.Socket, upstream: net.Socket, lease: Lease, started: number, inbound: Relay | undefined, outbound: Relay): void {
    const config = this.config;
    // the upstream→client relay is wired first: whatever happens next, its reads have a destination
    outbound.connect(upstream, client);
    if (client.destroyed) {
      // The client left while we were connecting.
      upstream.destroy();
      lease.release('cancelled');
      return;
    }
    if (config.proxy_protocol) {
      const ends = { sourceAddress: client.remoteAddress ?? '', sourcePort: client.remotePort ?? 0, destinationAddress: client.localAddress ?? '', destinationPort: client.localPort ?? 0 };
      upstream.write(config.proxy_protocol === 'v1' ? proxyHeaderV1(ends) : proxyHeaderV2(ends));
    }
    let outcome: LeaseOutcome = 'success';
    const idle = config.timeouts.tunnel_idle;
    client.setTimeout(idle, () => client.destroy());
    upstream.setTimeout(idle, () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => {
      outcome = 'reset';
      client.destroy();
    });
    // Relays (or pipe() for a client on 'data' events) give backpressure both ways and half-close: a FIN
    // on one side ends the other's writes once what is queued is written.
    if (inbound !== undefined) inbound.connect(client, upstream);
    else client.pipe(upstream);
    client.resume();
    let closed = 0;
    const done = (): void => {
      if (++closed < 2) return;
      inbound?.release();
      outbound.release();
      lease.release(outcome);
      this.bytesIn += client.bytesRead;
      this.bytesOut += client.bytesWritten;
      this.log(client, started, lease, outcome, client.bytesRead, client.bytesWritten);
    };
    client.once('close', (hadError) => {
      closeAfter(upstream, hadError);
      done();
    });
    upstream.once('close', (hadError) => {
      closeAfter(client, hadError);
      done();
    });
  }

  private log(client: net.Socket, started: number, lease: Lease | undefined, outcome: string, bytesIn: number, bytesOut: number): void {
    if (!this.config.access_log) return;
    this.deps.accessLog.info({
      listener: this.config.name,
      client: client.remoteAddress,
      pool: this.config.pool,
      backend: lease?.backend.id,
      outcome,
      bytes_in: bytesIn,
      bytes_out: bytesOut,
      total_ms: Math.round((this.clock.monotonic() - started) * 1000) / 1000,
    });
  }
}

/**
 * One end of a tunnel closed: the other goes too — at once after an error, but after a clean close only
 * once what the closed end sent it has been written: the relay ended its writes after those bytes, and a
 * slow reader may not have taken them yet (destroying it then cut the tail of a finished transfer). Its
 * idle timeout still bounds the wait.
 */
function closeAfter(other: net.Socket, hadError: boolean): void {
  if (!hadError && !other.destroyed && other.writableEnded && !other.writableFinished) other.once('finish', () => other.destroy());
  else other.destroy();
}
