// Per-backend keep-alive pools of raw upstream sockets. Idle sockets are reused most-recent-first (warm
// ones stay warm, the oldest age out), dropped on EOF or error while idle, and expired by sweep().
// At max_connections a request waits in the backend's queue (connection_queue: bounded, FIFO) for the
// next connection that comes free or the next slot; the owner times the wait out itself (cancelWait).
// Reads go through `onread` into the listener's shared buffer: whoever owns the connection must copy
// what outlives the callback.
// A pool with `tls:` (settings.tls) gets TLS connections: connected once the handshake is done (the
// owner's connect deadline covers TCP and TLS), resuming with the backend's last session ticket. Its
// backends are kept apart from plaintext ones and from other TLS settings (UpstreamTlsClient.key).
import net from 'node:net';
import type { UpstreamTlsClient } from '../../tls/index.ts';
import { messageOf, type Logger } from '../../core/index.ts';
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
  /** (after acquire() returned 'queued') this connection is now the owner's; upstreamConnected follows when it is. */
  upstreamAssigned(conn: UpstreamConnection): void;
}

/** acquire()'s answer when the owner waits in the backend's queue. */
export const QUEUED = 'queued';

/** Settings of a pool given without its config (tests, embedders): the pools schema's defaults. */
export const DEFAULT_UPSTREAM_SETTINGS: UpstreamSettings = { maxIdle: Number.POSITIVE_INFINITY, idleTimeout: 4000, maxConnections: 1024, queueSize: 1024, queueTimeout: 1000 };

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
  /** (TLS) TCP is up: a failure before `connected` is the handshake's (a certificate the pool does not trust, …). */
  private tcpConnected = false;

  private readonly report: (err: unknown) => void;

  constructor(backend: BackendConnections, readBuffer: Buffer, chunks: ChunkPool, report: (err: unknown) => void) {
    this.backend = backend;
    this.report = report;
    const onread = { buffer: readBuffer, callback: (nread: number, buf: Uint8Array) => this.guard(this.onRead, nread, buf as Buffer) };
    const secure = backend.tls;
    let socket: net.Socket;
    if (secure === undefined) {
      socket = net.connect({ host: backend.host, port: backend.port, noDelay: true, allowHalfOpen: true, onread } as unknown as net.NetConnectOpts);
      socket.on('connect', () => this.guard(this.onConnect, 0, null));
    } else if (secure.context === undefined) {
      // the pool's CA could not be read: every connect fails with that reason (the connector never opens one while it loads)
      socket = new net.Socket();
      const error = secure.error ?? new Error(`pool ${secure.pool}: tls not loaded`);
      process.nextTick(() => socket.destroy(error));
    } else {
      // allowHalfOpen and onread are honoured by tls.connect (Node's types leave them out)
      socket = secure.connect(backend.host, backend.port, backend.tlsSession, { allowHalfOpen: true, onread });
      socket.setNoDelay(true);
      socket.on('connect', () => {
        this.tcpConnected = true;
      });
      socket.on('secureConnect', () => this.guard(this.onConnect, 0, null));
      // TLS 1.3 tickets come after the handshake; the latest one resumes the next connection to this backend
      socket.on('session', (session: Buffer) => {
        backend.tlsSession = session;
      });
    }
    this.socket = socket;
    this.writer = new ChunkWriter(socket, chunks);
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
    if (this.backend.tlsFailing) this.backend.tlsRecovered();
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
    // only a failure the socket reports: a handshake the owner gave up on (its timeout, the client left) is not the backend's doing
    if (error && this.tcpConnected && !this.connected && !this.backend.tlsFailing) this.backend.tlsFailed(error);
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
  /** TLS settings of these connections (the latest pool settings with this backend and TLS key); undefined: plaintext. */
  tls: UpstreamTlsClient | undefined;
  /** The last session ticket the backend sent: new connections resume with it. */
  tlsSession: Buffer | undefined = undefined;
  /** The last TLS handshake with this backend failed (logged once, until one succeeds). */
  tlsFailing = false;
  /** When sweep first saw this backend without connections or waiters (0: it has some). */
  emptySince = 0;
  /**
   * The fewest idle connections since the last purge: that many sat idle the whole time, unused by the
   * demand of the period — the surplus the next purge closes half of (HAProxy's way of sizing its idle
   * pools: they follow recent demand up and decay after it).
   */
  idleLow = 0;
  /** When the surplus was last purged. */
  purgedAt = 0;
  private readonly logger: Logger | undefined;
  /** Idle sockets, oldest first. */
  readonly idle: UpstreamConnection[] = [];
  /** Owners waiting for a connection (at max_connections), oldest first. */
  readonly waiters: UpstreamOwner[] = [];
  open = 0;
  /** The connector's hand-over when a slot comes free (a connection closed). */
  private readonly slotFreed: (backend: BackendConnections) => void;

  constructor(id: string, host: string, port: number, settings: UpstreamSettings, slotFreed: (backend: BackendConnections) => void, logger?: Logger) {
    this.id = id;
    this.host = host;
    this.port = port;
    this.settings = settings;
    this.tls = settings.tls;
    this.slotFreed = slotFreed;
    this.logger = logger;
  }

  /**
   * Another pool's client with the same key, or a reload's: a session verified under another content of
   * the CA file does not carry over (a client still reading its CA keeps none).
   */
  useTls(client: UpstreamTlsClient): void {
    if (this.tls !== undefined && (client.pending || this.tls.caDigest !== client.caDigest)) this.tlsSession = undefined;
    this.tls = client;
  }

  /**
   * A handshake failed after TCP connected: the request gets 502 (a connect error, retried as one) and the
   * reason is logged here, once per failing spell, not per request.
   */
  tlsFailed(error: Error): void {
    this.tlsFailing = true;
    const reason = messageOf(error);
    this.logger?.warn({ pool: this.tls?.pool, backend: this.id, reason }, `pool ${this.tls?.pool}: tls handshake with backend ${this.id} failed: ${reason}`);
  }

  tlsRecovered(): void {
    this.tlsFailing = false;
    this.logger?.info({ pool: this.tls?.pool, backend: this.id }, `pool ${this.tls?.pool}: tls handshake with backend ${this.id} succeeds again`);
  }

  forget(conn: UpstreamConnection): void {
    this.open--;
    const at = this.idle.lastIndexOf(conn);
    if (at >= 0) this.idle.splice(at, 1);
    if (this.waiters.length > 0) this.slotFreed(this);
  }
}

export class UpstreamConnector {
  /** Plaintext backends by id. */
  private readonly backends = new Map<string, BackendConnections>();
  /** TLS backends: by UpstreamTlsClient.key, then by id (two lookups, no key built per request). */
  private readonly secureBackends = new Map<string, Map<string, BackendConnections>>();
  private readonly readBuffer: Buffer;
  private readonly chunks: ChunkPool;
  private readonly report: (err: unknown) => void;
  private readonly logger: Logger | undefined;

  /** `logger`: where failed TLS handshakes with backends are said (once per failing spell). */
  constructor(readBuffer: Buffer, chunks: ChunkPool, report: (err: unknown) => void, logger?: Logger) {
    this.readBuffer = readBuffer;
    this.chunks = chunks;
    this.report = report;
    this.logger = logger;
  }

  /**
   * A connection to the backend for `owner`: an idle one (returned connected, owner set) or a new one
   * (owner.upstreamConnected follows). null when the backend's connection limit is reached. `fresh`
   * skips the idle ones (a resend after a reused connection turned out dead). A TLS pool whose CA is still
   * being read (the first moments after start or reload) queues the owner until it is.
   */
  acquire(id: string, host: string, port: number, settings: UpstreamSettings, owner: UpstreamOwner, fresh = false): UpstreamConnection | typeof QUEUED | null {
    const secure = settings.tls;
    const table = secure === undefined ? this.backends : this.secureTable(secure.key);
    let backend = table.get(id);
    if (backend === undefined) {
      backend = new BackendConnections(id, host, port, settings, (b) => this.openForWaiter(b), this.logger);
      table.set(id, backend);
      if (secure?.pending) this.serveWhenLoaded(backend, secure);
    }
    backend.settings = settings;
    if (secure !== undefined && backend.tls !== secure) {
      // a reload's client (or another pool's with the same key) connects from now on: after a reload no new
      // connection trusts the previous CA file's content, even while the new one is being read
      backend.useTls(secure);
      if (secure.pending) this.serveWhenLoaded(backend, secure);
    }
    const reused = fresh ? undefined : backend.idle.pop();
    if (backend.idle.length < backend.idleLow) backend.idleLow = backend.idle.length;
    if (reused !== undefined) {
      reused.owner = owner;
      reused.uses++;
      return reused;
    }
    const loading = secure !== undefined && secure.pending;
    if (backend.open >= settings.maxConnections || loading) {
      // the wait is bounded twice: by the queue's size here (not for the CA's read of a millisecond or
      // two, which any size must allow), by connection_queue.timeout in the owner
      if (!loading && backend.waiters.length >= settings.queueSize) return null;
      backend.waiters.push(owner);
      return QUEUED;
    }
    return this.open(backend, owner);
  }

  /** Owners queued while `client` reads its CA get their connections once it has (openForWaiters). */
  private serveWhenLoaded(backend: BackendConnections, client: UpstreamTlsClient): void {
    client.whenLoaded(() => this.openForWaiters(backend));
  }

  private secureTable(key: string): Map<string, BackendConnections> {
    let table = this.secureBackends.get(key);
    if (table === undefined) {
      table = new Map();
      this.secureBackends.set(key, table);
    }
    return table;
  }

  private open(backend: BackendConnections, owner: UpstreamOwner): UpstreamConnection {
    backend.open++;
    const conn = new UpstreamConnection(backend, this.readBuffer, this.chunks, this.report);
    conn.owner = owner;
    conn.uses = 1;
    return conn;
  }

  /** The owner stopped waiting (its queue timeout, or it went away). */
  cancelWait(id: string, owner: UpstreamOwner): void {
    // a cold path: the owner's backend is the plaintext one or one of the TLS ones with this id
    if (this.dropWaiter(this.backends.get(id), owner)) return;
    for (const table of this.secureBackends.values()) if (this.dropWaiter(table.get(id), owner)) return;
  }

  private dropWaiter(backend: BackendConnections | undefined, owner: UpstreamOwner): boolean {
    const at = backend === undefined ? -1 : backend.waiters.indexOf(owner);
    if (at >= 0) backend!.waiters.splice(at, 1);
    return at >= 0;
  }

  /** A TLS backend's settings finished loading: its waiters get connections, up to max_connections. */
  private openForWaiters(backend: BackendConnections): void {
    while (backend.waiters.length > 0 && backend.open < backend.settings.maxConnections && backend.tls?.pending !== true) this.openForWaiter(backend);
  }

  /** A connection of a backend with waiters closed: the first waiter gets a new one in its slot. */
  private openForWaiter(backend: BackendConnections): void {
    // still loading its TLS settings: openForWaiters serves the queue once they are loaded
    if (backend.tls?.pending === true) return;
    const owner = backend.waiters.shift()!;
    this.handOver(owner, this.open(backend, owner));
  }

  /**
   * Gives `conn` to an owner that waited. Runs inside another exchange's release or close: an error in the
   * waiter drops the waiter's connection only.
   */
  private handOver(owner: UpstreamOwner, conn: UpstreamConnection): void {
    try {
      owner.upstreamAssigned(conn);
      if (conn.connected) owner.upstreamConnected(conn);
    } catch (err) {
      this.report(err);
      conn.owner = null;
      conn.destroy();
    }
  }

  /** Gives a connection back after a complete exchange; `reusable` false closes it. */
  release(conn: UpstreamConnection, reusable: boolean, now: number): void {
    conn.owner = null;
    if (conn.closed) return;
    const backend = conn.backend;
    if (!reusable || (backend.idle.length >= backend.settings.maxIdle && backend.waiters.length === 0)) {
      conn.destroy();
      return;
    }
    if (conn.socket.isPaused()) conn.socket.resume();
    const waiter = backend.waiters.shift();
    if (waiter !== undefined) {
      // straight to the oldest waiter: it is reused as if it had been idle
      conn.owner = waiter;
      conn.uses++;
      this.handOver(waiter, conn);
      return;
    }
    conn.idleSince = now;
    backend.idle.push(conn);
  }

  /** Closes idle sockets older than their backend's idle timeout. */
  sweep(now: number): void {
    sweepTable(this.backends, now, 0);
    for (const [key, table] of this.secureBackends) {
      sweepTable(table, now, TLS_BACKEND_KEEP_MS);
      if (table.size === 0) this.secureBackends.delete(key);
    }
  }

  idleCount(): number {
    let n = 0;
    for (const backend of this.allBackends()) n += backend.idle.length;
    return n;
  }

  closeAll(): void {
    for (const backend of this.allBackends()) {
      while (backend.idle.length > 0) backend.idle[0].destroy();
    }
  }

  private *allBackends(): Iterable<BackendConnections> {
    yield* this.backends.values();
    for (const table of this.secureBackends.values()) yield* table.values();
  }
}

/**
 * A TLS backend's entry outlives its connections by this much: its session ticket resumes the next
 * connection after an idle spell, and a failing handshake is logged once, not once per reconnect.
 */
const TLS_BACKEND_KEEP_MS = 5 * 60_000;

/** How often the idle surplus is purged (see BackendConnections.idleLow). */
const PURGE_EVERY_MS = 1000;

function sweepTable(table: Map<string, BackendConnections>, now: number, keepMs: number): void {
  for (const backend of table.values()) {
    const idle = backend.idle;
    while (idle.length > 0 && now - idle[0].idleSince >= backend.settings.idleTimeout) idle[0].destroy();
    if (now - backend.purgedAt >= PURGE_EVERY_MS) {
      // half the connections that stayed idle all period, oldest first: a burst's pool shrinks in steps
      let surplus = Math.ceil(Math.min(backend.idleLow, idle.length) / 2);
      while (surplus-- > 0) idle[0].destroy();
      backend.idleLow = idle.length;
      backend.purgedAt = now;
    }
    if (backend.open > 0 || backend.waiters.length > 0) backend.emptySince = 0;
    else if (backend.emptySince === 0) backend.emptySince = now;
    if (backend.emptySince !== 0 && now - backend.emptySince >= keepMs) table.delete(backend.id);
  }
}
