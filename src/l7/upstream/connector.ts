// Per-backend keep-alive pools of raw upstream sockets. Idle sockets are reused most-recent-first (warm
// ones stay warm, the oldest age out), dropped on EOF or error while idle, and expired by sweep().
// Reads go through `onread` into the listener's shared buffer: whoever owns the connection must copy
// what outlives the callback.
import net from 'node:net';
import type { UpstreamSettings } from '../types.ts';
import { ChunkWriter, type ChunkPool } from '../chunk-writer.ts';

/** The side that owns a busy upstream connection (a proxy exchange). */
export interface UpstreamOwner {
  upstreamConnected(conn: UpstreamConnection): void;
  upstreamData(buf: Buffer, start: number, end: number): void;
  /** EOF from the upstream (the socket stays writable until we end it). */
  upstreamEnd(): void;
  /** The socket closed or failed; `connected` tells whether it ever connected. */
  upstreamClosed(error: Error | undefined, connected: boolean): void;
  upstreamDrain(): void;
}

/** Settings of a pool given without its config (tests, embedders): pools.max_connections' default. */
export const DEFAULT_UPSTREAM_SETTINGS: UpstreamSettings = { maxIdle: 64, idleTimeout: 4000, maxConnections: 1024 };

export class UpstreamConnection {
  readonly socket: net.Socket;
  readonly writer: ChunkWriter;
  readonly backend: BackendConnections;
  owner: UpstreamOwner | null = null;
  connected = false;
  idleSince = 0;
  closed = false;
  /** Requests this socket carried (logs, tests of reuse). */
  uses = 0;

  private readonly report: (err: unknown) => void;

  constructor(backend: BackendConnections, host: string, port: number, readBuffer: Buffer, chunks: ChunkPool, report: (err: unknown) => void) {
    this.backend = backend;
    this.report = report;
    const socket = net.connect({
      host,
      port,
      noDelay: true,
      allowHalfOpen: true,
      onread: { buffer: readBuffer, callback: (nread: number, buf: Uint8Array) => this.guard(this.onRead, nread, buf as Buffer) },
    } as unknown as net.NetConnectOpts);
    this.socket = socket;
    this.writer = new ChunkWriter(socket, chunks);
    socket.on('connect', () => this.guard(this.onConnect, 0, null));
    socket.on('end', () => this.guard(this.onEnd, 0, null));
    socket.on('close', () => this.guard(this.onClose, 0, null));
    socket.on('error', (err) => this.guard(this.onClose, 0, err));
    socket.on('drain', () => this.guard(this.onDrain, 0, null));
  }

  /** The phase boundary for everything an upstream socket triggers: a bug drops this exchange only. */
  private guard<A>(method: (this: UpstreamConnection, n: number, arg: A) => void, n: number, arg: A): void {
    try {
      method.call(this, n, arg);
    } catch (err) {
      this.report(err);
      const owner = this.owner;
      this.owner = null;
      if (!this.socket.destroyed) this.socket.destroy();
      try {
        owner?.upstreamClosed(err instanceof Error ? err : new Error(String(err)), this.connected);
      } catch (again) {
        this.report(again);
      }
    }
  }

  private onConnect(): void {
    this.connected = true;
    this.owner?.upstreamConnected(this);
  }

  private onDrain(): void {
    this.owner?.upstreamDrain();
  }

  private onRead(nread: number, buf: Buffer): void {
    if (this.owner !== null) this.owner.upstreamData(buf, 0, nread);
    else this.destroy(); // bytes on an idle socket: the upstream is confused, never reuse it
  }

  private onEnd(): void {
    if (this.owner !== null) this.owner.upstreamEnd();
    else this.destroy();
  }

  private onClose(_n: number, error: Error | null | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.backend.forget(this);
    const owner = this.owner;
    this.owner = null;
    if (!this.socket.destroyed) this.socket.destroy();
    owner?.upstreamClosed(error ?? undefined, this.connected);
  }

  destroy(): void {
    this.owner = null;
    this.onClose(0, undefined);
  }
}

export class BackendConnections {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  settings: UpstreamSettings;
  /** Idle sockets, oldest first. */
  readonly idle: UpstreamConnection[] = [];
  open = 0;

  constructor(id: string, host: string, port: number, settings: UpstreamSettings) {
    this.id = id;
    this.host = host;
    this.port = port;
    this.settings = settings;
  }

  forget(conn: UpstreamConnection): void {
    this.open--;
    const at = this.idle.lastIndexOf(conn);
    if (at >= 0) this.idle.splice(at, 1);
  }
}

export class UpstreamConnector {
  private readonly backends = new Map<string, BackendConnections>();
  private readonly readBuffer: Buffer;
  private readonly chunks: ChunkPool;
  private readonly report: (err: unknown) => void;

  constructor(readBuffer: Buffer, chunks: ChunkPool, report: (err: unknown) => void) {
    this.readBuffer = readBuffer;
    this.chunks = chunks;
    this.report = report;
  }

  /**
   * A connection to the backend for `owner`: an idle one (returned connected, owner set) or a new one
   * (owner.upstreamConnected follows). null when the backend's connection limit is reached. `fresh`
   * skips the idle ones (a resend after a reused connection turned out dead).
   */
  acquire(id: string, host: string, port: number, settings: UpstreamSettings, owner: UpstreamOwner, fresh = false): UpstreamConnection | null {
    let backend = this.backends.get(id);
    if (backend === undefined) {
      backend = new BackendConnections(id, host, port, settings);
      this.backends.set(id, backend);
    }
    backend.settings = settings;
    const reused = fresh ? undefined : backend.idle.pop();
    if (reused !== undefined) {
      reused.owner = owner;
      reused.uses++;
      return reused;
    }
    if (backend.open >= settings.maxConnections) return null;
    backend.open++;
    const conn = new UpstreamConnection(backend, host, port, this.readBuffer, this.chunks, this.report);
    conn.owner = owner;
    conn.uses = 1;
    return conn;
  }

  /** Gives a connection back after a complete exchange; `reusable` false closes it. */
  release(conn: UpstreamConnection, reusable: boolean, now: number): void {
    conn.owner = null;
    if (conn.closed) return;
    const backend = conn.backend;
    if (!reusable || backend.idle.length >= backend.settings.maxIdle) {
      conn.destroy();
      return;
    }
    if (conn.socket.isPaused()) conn.socket.resume();
    conn.idleSince = now;
    backend.idle.push(conn);
  }

  /** Closes idle sockets older than their backend's idle timeout. */
  sweep(now: number): void {
    for (const backend of this.backends.values()) {
      const idle = backend.idle;
      while (idle.length > 0 && now - idle[0].idleSince >= backend.settings.idleTimeout) idle[0].destroy();
      if (backend.open === 0) this.backends.delete(backend.id);
    }
  }

  idleCount(): number {
    let n = 0;
    for (const backend of this.backends.values()) n += backend.idle.length;
    return n;
  }

  closeAll(): void {
    for (const backend of this.backends.values()) {
      while (backend.idle.length > 0) backend.idle[0].destroy();
    }
  }
}
