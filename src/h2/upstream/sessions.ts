// Multiplexed upstream connections for pools with protocol h2c, h2 or grpc: per backend a few HTTP/2
// client sessions (client-session.ts, on Switchyard's codec), each carrying many streams up to the
// backend's SETTINGS_MAX_CONCURRENT_STREAMS.
// TLS to the upstream (protocol h2, or grpc with `tls:`) verifies the backend against `tls.ca` (or the
// system store) and sends `tls.servername` as SNI: re-encryption after termination at the edge.
import net from 'node:net';
import tls from 'node:tls';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { PoolConfig } from '../../config/index.ts';
import { EdgeError, messageOf, type Logger } from '../../core/index.ts';
import { ClientSession } from './client-session.ts';

export interface UpstreamTarget {
  /** "host:port", the backend id. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

interface TrackedSession {
  session: ClientSession;
  /** Streams open and slots promised to tries still waiting for the connection. */
  active: number;
  connected: Promise<void>;
  /** The connection is up (connected resolved): streams may open on it at once. */
  up: boolean;
  /** Gives back one slot taken by ready() (the stream's close calls it once). */
  done: () => void;
}

export interface UpstreamSessionsDeps {
  baseDir: string;
  logger: Logger;
  /** ms allowed for TCP + TLS + SETTINGS; the listener's timeouts.upstream_connect. */
  connectTimeoutMs: number;
}

export class H2UpstreamSessions {
  readonly poolName: string;
  private config: PoolConfig;
  private readonly deps: UpstreamSessionsDeps;
  private readonly byBackend = new Map<string, TrackedSession[]>();
  private ca: Buffer | undefined;
  private prepared: Promise<void> | undefined;
  private closed = false;
  /** prepare() has succeeded for the current config: ready() may hand out sessions. */
  private preparedOk = false;

  constructor(poolName: string, config: PoolConfig, deps: UpstreamSessionsDeps) {
    this.poolName = poolName;
    this.config = config;
    this.deps = deps;
  }

  get secure(): boolean {
    return this.config.protocol === 'h2' || (this.config.protocol === 'grpc' && this.config.tls !== undefined);
  }

  /** Reads the CA file once (async); every acquire waits for it. */
  prepare(): Promise<void> {
    this.prepared ??= (async () => {
      const caFile = this.config.tls?.ca;
      if (caFile === undefined) {
        this.preparedOk = true;
        return;
      }
      try {
        this.ca = await readFile(path.resolve(this.deps.baseDir, caFile));
        this.preparedOk = true;
      } catch (err) {
        throw new EdgeError('SY_ERR_UPSTREAM_TLS', `pool ${this.poolName}: cannot read tls.ca ${caFile}: ${messageOf(err)}`, { source: 'config' });
      }
    })();
    return this.prepared;
  }

  private connect(target: UpstreamTarget): TrackedSession {
    const config = this.config.tls;
    const socket = this.secure
      ? tls.connect({
          host: target.host,
          port: target.port,
          ca: this.ca,
          servername: config?.servername ?? (/^[\d.]+$|:/.test(target.host) ? undefined : target.host),
          rejectUnauthorized: config?.verify ?? true,
          ALPNProtocols: ['h2'],
        })
      : net.connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    const tracked: TrackedSession = { session: undefined as unknown as ClientSession, active: 0, connected: undefined as unknown as Promise<void>, up: false, done: () => void tracked.active-- };
    const session = new ClientSession(socket, { gone: () => this.forget(target.id, tracked) });
    tracked.session = session;
    tracked.connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        session.destroy();
        reject(new EdgeError('SY_ERR_UPSTREAM_CONNECT', `pool ${this.poolName}: connect to ${target.id} timed out`, { source: 'upstream', retry: 'retryable', status: 504 }));
      }, this.deps.connectTimeoutMs);
      const failed = (err: Error): void => {
        clearTimeout(timer);
        session.destroy();
        reject(new EdgeError('SY_ERR_UPSTREAM_CONNECT', `pool ${this.poolName}: cannot connect to ${target.id}: ${messageOf(err)}`, { source: 'upstream', retry: 'retryable', status: 502, cause: err }));
      };
      socket.once('error', failed);
      socket.once('close', () => failed(new Error('connection closed')));
      socket.once(this.secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', failed);
        if (this.secure && (socket as tls.TLSSocket).alpnProtocol !== 'h2') return failed(new Error('the backend did not negotiate h2 (ALPN)'));
        session.start();
        tracked.up = true;
        resolve();
      });
    });
    tracked.connected.catch(() => undefined);
    // an idle session is closed after the pool's keep-alive idle timeout
    socket.setTimeout(this.config.keepalive.idle_timeout, () => {
      if (session.activeStreams === 0 && tracked.active === 0) session.retire();
    });
    let list = this.byBackend.get(target.id);
    if (!list) {
      list = [];
      this.byBackend.set(target.id, list);
    }
    list.push(tracked);
    return tracked;
  }

  private forget(id: string, tracked: TrackedSession): void {
    const list = this.byBackend.get(id);
    if (!list) return;
    const at = list.indexOf(tracked);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.byBackend.delete(id);
  }

  /**
   * A session that is up with room for one more stream, taken at once (no promise, no turn of the event
   * loop: the common case once a backend's connection exists); undefined when acquire() must wait. The
   * slot is the caller's: `done` gives it back, once.
   */
  ready(target: UpstreamTarget): { session: ClientSession; done: () => void } | undefined {
    if (this.closed || !this.preparedOk) return undefined;
    const list = this.byBackend.get(target.id);
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) {
      const candidate = list[i];
      if (candidate.up && candidate.session.usable && candidate.active < candidate.session.maxConcurrentStreams) {
        candidate.active++;
        return candidate;
      }
    }
    return undefined;
  }

  /**
   * A connected session to the backend with room for one more stream; call `done` when that stream closes.
   * Rejects with a retryable EdgeError when the backend cannot be reached.
   */
  async acquire(target: UpstreamTarget): Promise<{ session: ClientSession; done: () => void }> {
    if (this.closed) throw new EdgeError('SY_ERR_UPSTREAM_CLOSED', `pool ${this.poolName}: closed`, { source: 'internal', retry: 'retryable', status: 503 });
    await this.prepare();
    let tracked: TrackedSession | undefined;
    for (const candidate of this.byBackend.get(target.id) ?? []) {
      const session = candidate.session;
      if (!session.usable) continue;
      if (candidate.active < session.maxConcurrentStreams) {
        tracked = candidate;
        break;
      }
    }
    tracked ??= this.connect(target);
    tracked.active++;
    const chosen = tracked;
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      chosen.active--;
    };
    try {
      await chosen.connected;
    } catch (err) {
      done();
      throw err;
    }
    return { session: chosen.session, done };
  }

  updateConfig(config: PoolConfig): void {
    if (JSON.stringify(config.tls) !== JSON.stringify(this.config.tls) || config.protocol !== this.config.protocol) {
      this.prepared = undefined;
      this.preparedOk = false;
      for (const list of [...this.byBackend.values()]) for (const tracked of [...list]) tracked.session.retire();
    }
    this.config = config;
  }

  sessionCount(): number {
    let n = 0;
    for (const list of this.byBackend.values()) n += list.length;
    return n;
  }

  close(): void {
    this.closed = true;
    for (const list of [...this.byBackend.values()]) for (const tracked of [...list]) tracked.session.retire();
    this.byBackend.clear();
  }
}
