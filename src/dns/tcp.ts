// DNS over TCP (RFC 1035 4.2.2, RFC 7766): 2-byte length framing and pipelined queries, with the limits
// that keep one hostile client to its share of the process that serves DNS (the primary, which also runs
// the health checks and the admin API):
// - write backpressure: when the client does not read its answers, reading its queries pauses until the
//   socket drains, so what a connection holds is bounded (one read chunk + the socket's write buffer);
// - `max_in_flight`: queries answered asynchronously (the resolver) per connection; reading pauses at it;
// - `io_timeout`: a query must arrive whole, and an answer must drain, within this time of its first byte,
//   so a one-byte trickle cannot hold a connection (the idle clock does not restart on partial input);
// - `idle_timeout`: with nothing in progress, a connection closes this long after its last query or answer;
// - `max_connections_per_client`: per client address; over it a new connection closes at once;
// - `max_connections`: in total; at it a new connection closes the least recently productive one (the
//   one whose last answered query is oldest), so a crowd of sockets that never finish a query cannot lock
//   out a client that does.
// DNS over TLS (RFC 7858) is this transport inside TLS: the limits above apply from the TCP accept, so a
// TLS handshake counts against the connection caps and must finish within `io_timeout`.
import net from 'node:net';
import tls from 'node:tls';
import type { Clock, TimerHandle } from '../core/index.ts';
import type { ChainOutcome } from './chain.ts';
import type { DnsCounters } from './engine.ts';
import type { Answerer } from './transport.ts';

/** Bytes of an incomplete message after which it gets its own buffer (below it, concatenation is cheap). */
const FRAME_AFTER = 1024;

export interface TcpOptions {
  idleTimeout: number;
  ioTimeout: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
  maxInFlight: number;
}

/** One downstream connection's state; times are the clock's monotonic milliseconds. */
interface Connection {
  /** The accepted TCP socket: the connection's identity (the key of `open`). */
  readonly raw: net.Socket;
  /** What queries are read from and answers written to: `raw`, or the TLS socket over it. */
  socket: net.Socket;
  readonly client: string;
  /** Bytes received and not parsed yet: an incomplete message, or more while reading is paused. */
  pending: Buffer | undefined;
  /** A buffer the size of the large incomplete message in `pending` (which is a view of its start). */
  frame: Buffer | undefined;
  /** Queries handed to the engine whose answers have not come back. */
  inFlight: number;
  paused: boolean;
  /** The client half-closed: the connection ends once every query it sent is answered. */
  ended: boolean;
  /** When the first byte of the incomplete message in `pending` arrived, or the TCP accept while the TLS handshake runs (NaN: none). */
  partialSince: number;
  /** When an answer stopped draining because the client does not read (NaN: writes flow). */
  stalledSince: number;
  /** The last complete query answered (not dropped) or answer drained. */
  lastActivity: number;
}

export class TcpListener {
  private server: net.Server | undefined;
  /** Ordered least recently productive first: an answered query moves its connection to the end. */
  private readonly open = new Map<net.Socket, Connection>();
  private readonly perClient = new Map<string, number>();
  private sweepTimer: TimerHandle | undefined;
  /** DNS over TLS: accepted sockets are handed to this server for the handshake (undefined: plain TCP). */
  private tlsServer: tls.Server | undefined;
  /** Connections in their TLS handshake, by the client's address and port (what identifies them to tls.Server). */
  private readonly handshaking = new Map<string, Connection>();
  /** Answers of one pump waiting to be written together (reused: pump and reply empty it before returning). */
  private readonly batch: Buffer[] = [];
  readonly host: string;
  private readonly answer: Answerer;
  private options: TcpOptions;
  private readonly clock: Clock;
  private readonly counters: DnsCounters;

  constructor(host: string, answer: Answerer, options: TcpOptions, clock: Clock, counters: DnsCounters) {
    this.host = host;
    this.answer = answer;
    this.options = options;
    this.clock = clock;
    this.counters = counters;
  }

  get connections(): number {
    return this.open.size;
  }

  /** A reload's new limits: they apply to new and open connections alike (from the next sweep on). */
  setOptions(options: TcpOptions): void {
    this.options = options;
  }

  /**
   * Makes this a DNS-over-TLS listener (or changes its certificates on reload): `options` are a tls.Server's,
   * `attach` wires the server to its certificate source. Connections already open keep their TLS session.
   */
  setTls(options: tls.TlsOptions, attach: (server: tls.Server) => void): void {
    const server = tls.createServer(options);
    attach(server);
    server.on('secureConnection', (socket: tls.TLSSocket) => this.secured(socket));
    // a failed handshake destroys the socket; 'close' on the raw socket forgets the connection
    server.on('tlsClientError', () => {
      this.counters.tls_handshake_failures++;
    });
    const previous = this.tlsServer;
    this.tlsServer = server;
    previous?.close();
  }

  async listen(port: number): Promise<number> {
    // half-open: a client may send its queries and shut its side; the answers still go out (pump ends it)
    const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // reusePort: one listening socket per traffic worker on the same address (the kernel spreads connections)
      server.listen({ port, host: this.host, exclusive: true, reusePort: process.platform === 'linux' }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.scheduleSweep();
    return (server.address() as net.AddressInfo).port;
  }

  private accept(socket: net.Socket): void {
    const client = socket.remoteAddress ?? '';
    const fromClient = this.perClient.get(client) ?? 0;
    if (fromClient >= this.options.maxConnectionsPerClient) {
      this.counters.tcp_refused++;
      socket.destroy();
      return;
    }
    if (this.open.size >= this.options.maxConnections) {
      const oldest = this.open.values().next().value!;
      this.counters.tcp_evicted++;
      this.closeConnection(oldest);
    }
    const now = this.clock.monotonic();
    const tlsServer = this.tlsServer;
    // the handshake is held to io_timeout like a message in progress
    const partialSince = tlsServer ? now : NaN;
    const connection: Connection = { raw: socket, socket, client, pending: undefined, frame: undefined, inFlight: 0, paused: false, ended: false, partialSince, stalledSince: NaN, lastActivity: now };
    this.open.set(socket, connection);
    this.perClient.set(client, fromClient + 1);
    socket.on('close', () => this.forget(connection));
    socket.on('error', () => socket.destroy());
    if (tlsServer) {
      this.handshaking.set(`${client}|${socket.remotePort}`, connection);
      tlsServer.emit('connection', socket);
    } else {
      this.serve(connection);
    }
  }

  /** The TLS handshake finished: queries flow from now on. */
  private secured(socket: tls.TLSSocket): void {
    const id = `${socket.remoteAddress}|${socket.remotePort}`;
    const connection = this.handshaking.get(id);
    this.handshaking.delete(id);
    if (connection === undefined || connection.raw.destroyed) {
      socket.destroy();
      return;
    }
    connection.socket = socket;
    connection.partialSince = NaN;
    connection.lastActivity = this.clock.monotonic();
    socket.on('close', () => connection.raw.destroy());
    this.serve(connection);
  }

  private serve(connection: Connection): void {
    const socket = connection.socket;
    if (socket !== connection.raw) socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.receive(connection, chunk));
    socket.on('end', () => {
      connection.ended = true;
      this.pump(connection);
    });
    socket.on('drain', () => {
      connection.stalledSince = NaN;
      connection.lastActivity = this.clock.monotonic();
      this.pump(connection);
    });
  }

  /**
   * Appends a chunk to `pending`. A large message arriving in many small chunks is copied into its own
   * buffer once (see `frame`) rather than re-concatenated per chunk, which would cost O(n²) copying.
   */
  private receive(connection: Connection, chunk: Buffer): void {
    const { pending, frame } = connection;
    if (pending === undefined) {
      connection.pending = chunk;
    } else if (frame !== undefined && pending.length + chunk.length <= frame.length) {
      chunk.copy(frame, pending.length);
      connection.pending = frame.subarray(0, pending.length + chunk.length);
    } else {
      connection.pending = Buffer.concat([pending, chunk]);
      connection.frame = undefined;
    }
    this.pump(connection);
  }

  /** Answers the complete queries in `pending` while the connection may take more; pauses reading when not. */
  private pump(connection: Connection): void {
    const { socket } = connection;
    if (socket.destroyed) return;
    const maxInFlight = this.options.maxInFlight;
    let data = connection.pending;
    let queries = 0;
    /** Queries that were not dropped unanswered: only they count as activity (an empty frame does not). */
    let productive = 0;
    // The answers produced synchronously from this read go out as one framed buffer in one write (not a
    // buffer and a stream write per answer). Reading stops where the per-answer writes used to stop: once
    // what the socket holds plus this batch reaches its high-water mark (the backpressure bound above).
    const batch = this.batch;
    let batchBytes = 0;
    const room = socket.writableHighWaterMark - socket.writableLength;
    socket.cork();
    while (data !== undefined && data.length >= 2 && connection.inFlight < maxInFlight && !socket.writableNeedDrain && batchBytes < room) {
      const end = 2 + data.readUInt16BE(0);
      if (data.length < end) break;
      const message = data.subarray(2, end);
      data = data.length === end ? undefined : data.subarray(end);
      queries++;
      const outcome = this.answer(message, 'tcp', connection.client);
      if (outcome instanceof Promise) {
        productive++;
        connection.inFlight++;
        outcome.then((result) => this.answered(connection, result));
      } else if (outcome !== 'drop') {
        productive++;
        batch.push(outcome);
        batchBytes += 2 + outcome.length;
      }
    }
    if (batch.length > 0) {
      this.writeFramed(socket, batch, batchBytes);
      batch.length = 0;
    }
    socket.uncork();
    if (queries > 0) connection.frame = undefined;
    if (data !== undefined && data.length >= FRAME_AFTER && connection.frame === undefined) {
      const end = 2 + data.readUInt16BE(0);
      if (end > data.length) {
        connection.frame = Buffer.allocUnsafe(end);
        data.copy(connection.frame);
        data = connection.frame.subarray(0, data.length);
      }
    }
    connection.pending = data;
    const now = this.clock.monotonic();
    if (productive > 0) {
      connection.lastActivity = now;
      this.open.delete(connection.raw);
      this.open.set(connection.raw, connection);
    }
    const blocked = socket.writableNeedDrain || connection.inFlight >= maxInFlight;
    // an incomplete message's clock starts at its first byte; further bytes of it do not restart it
    if (blocked || data === undefined) connection.partialSince = NaN;
    else if (queries > 0 || Number.isNaN(connection.partialSince)) connection.partialSince = now;
    if (socket.writableNeedDrain && Number.isNaN(connection.stalledSince)) connection.stalledSince = now;
    if (blocked !== connection.paused) {
      connection.paused = blocked;
      if (blocked) socket.pause();
      else socket.resume();
    }
    if (connection.ended && !socket.writableEnded && connection.inFlight === 0 && (data === undefined || !blocked)) socket.end();
  }

  private answered(connection: Connection, outcome: ChainOutcome): void {
    connection.inFlight--;
    this.reply(connection, outcome);
    connection.lastActivity = this.clock.monotonic();
    this.pump(connection);
  }

  private reply(connection: Connection, outcome: ChainOutcome): void {
    if (outcome === 'drop' || connection.socket.destroyed) return;
    const batch = this.batch;
    batch.push(outcome);
    this.writeFramed(connection.socket, batch, 2 + outcome.length);
    batch.length = 0;
  }

  /** Writes `answers` as one buffer of 2-byte length-prefixed messages (RFC 1035 4.2.2); `bytes` is its size. */
  private writeFramed(socket: net.Socket, answers: readonly Buffer[], bytes: number): void {
    const out = Buffer.allocUnsafe(bytes);
    let offset = 0;
    for (const answer of answers) {
      out[offset] = answer.length >>> 8;
      out[offset + 1] = answer.length & 0xff;
      out.set(answer, offset + 2);
      offset += 2 + answer.length;
    }
    socket.write(out);
  }

  /** Closes the connections whose message, answer or idle time ran out (a sweep: no timer per connection). */
  private sweep(): void {
    const now = this.clock.monotonic();
    const { ioTimeout, idleTimeout } = this.options;
    for (const connection of this.open.values()) {
      const expired = !Number.isNaN(connection.stalledSince)
        ? now - connection.stalledSince > ioTimeout
        : !Number.isNaN(connection.partialSince)
          ? now - connection.partialSince > ioTimeout
          : connection.inFlight === 0 && connection.pending === undefined && now - connection.lastActivity > idleTimeout;
      if (expired) {
        this.counters.tcp_timeouts++;
        this.closeConnection(connection);
      }
    }
  }

  private scheduleSweep(): void {
    // a quarter of the shorter timeout: a connection outlives its limit by at most that much
    const every = Math.min(1000, Math.max(20, Math.min(this.options.ioTimeout, this.options.idleTimeout) / 4));
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweep();
      if (this.sweepTimer !== undefined) this.scheduleSweep();
    }, every);
    this.sweepTimer.unref?.();
  }

  private closeConnection(connection: Connection): void {
    this.forget(connection);
    connection.socket.destroy();
    connection.raw.destroy();
  }

  /** Idempotent: runs on eviction or timeout and again on the socket's 'close'. */
  private forget(connection: Connection): void {
    if (!this.open.delete(connection.raw)) return;
    if (connection.socket === connection.raw && this.tlsServer) this.handshaking.delete(`${connection.client}|${connection.raw.remotePort}`);
    const left = (this.perClient.get(connection.client) ?? 1) - 1;
    if (left > 0) this.perClient.set(connection.client, left);
    else this.perClient.delete(connection.client);
  }

  /** Stops accepting; open connections keep being served until they close or time out. */
  stopAccepting(): void {
    this.server?.close();
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.tlsServer?.close();
    this.tlsServer = undefined;
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const connection of [...this.open.values()]) this.closeConnection(connection);
    this.handshaking.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
