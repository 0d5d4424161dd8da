// Connections to origins and the idle ones kept alive between requests, by destination (resolved
// address, port and the Host the request named: a virtual-hosting origin may answer differently per
// name, so connections are never shared across names). Each connection is an OriginLink whose socket
// handlers are installed once, when it is opened, and call whichever exchange owns it now: a request on
// a kept-alive connection adds and removes no listener. Idle links are reused most recently used first;
// one that sends a byte, ends, errs or outlives IDLE_TIMEOUT_MS is closed. Bounded per destination and
// in total.
import net from 'node:net';

/** Shorter than the keep-alive timeouts of common origins (Node 5 s, nginx 75 s): we close first, not them. */
const IDLE_TIMEOUT_MS = 4000;
const MAX_IDLE_PER_ORIGIN = 32;
const MAX_IDLE_TOTAL = 1024;

/** The exchange that owns a link: its socket's events go there. */
export interface OriginOwner {
  upstreamConnect(): void;
  upstreamData(chunk: Buffer): void;
  upstreamEnd(): void;
  upstreamError(err: Error): void;
  upstreamClose(): void;
  upstreamDrain(): void;
  upstreamTimeout(): void;
}

export class OriginLink {
  readonly socket: net.Socket;
  readonly key: string;
  owner: OriginOwner | null;
  /** The pool holding it while idle. */
  idleIn: OriginPool | null = null;

  /** Opens a connection to address:port for `owner`; `connectTimeout` bounds the TCP handshake. */
  constructor(key: string, address: string, port: number, owner: OriginOwner, connectTimeout: number) {
    this.key = key;
    this.owner = owner;
    const socket = net.connect({ host: address, port, noDelay: true, allowHalfOpen: true });
    this.socket = socket;
    socket.setTimeout(connectTimeout);
    socket.on('connect', () => this.owner?.upstreamConnect());
    socket.on('data', (chunk: Buffer) => (this.owner === null ? socket.destroy() : this.owner.upstreamData(chunk)));
    socket.on('end', () => (this.owner === null ? socket.destroy() : this.owner.upstreamEnd()));
    socket.on('error', (err) => this.owner?.upstreamError(err));
    socket.on('drain', () => this.owner?.upstreamDrain());
    socket.on('timeout', () => (this.owner === null ? socket.destroy() : this.owner.upstreamTimeout()));
    socket.on('close', () => {
      if (this.owner !== null) this.owner.upstreamClose();
      else this.idleIn?.forget(this);
    });
  }

  /** Drops the link: its owner hears nothing more from it. */
  destroy(): void {
    this.owner = null;
    this.socket.destroy();
  }
}

export class OriginPool {
  private readonly idle = new Map<string, OriginLink[]>();
  private total = 0;

  /** An idle link to `key`, now owned by `owner`, or undefined. */
  take(key: string, owner: OriginOwner): OriginLink | undefined {
    const list = this.idle.get(key);
    while (list !== undefined && list.length > 0) {
      const link = list.pop()!;
      this.total--;
      link.idleIn = null;
      if (link.socket.destroyed || !link.socket.writable) {
        link.destroy();
        continue;
      }
      link.owner = owner;
      link.socket.setTimeout(0);
      link.socket.resume();
      return link;
    }
    return undefined;
  }

  /** A link whose exchange ended cleanly (the response read whole, the request sent whole). */
  put(link: OriginLink): void {
    link.owner = null;
    let list = this.idle.get(link.key);
    if (list === undefined) {
      list = [];
      this.idle.set(link.key, list);
    }
    if (list.length >= MAX_IDLE_PER_ORIGIN || this.total >= MAX_IDLE_TOTAL) {
      link.destroy();
      return;
    }
    list.push(link);
    this.total++;
    link.idleIn = this;
    link.socket.setTimeout(IDLE_TIMEOUT_MS);
  }

  /** An idle link closed. */
  forget(link: OriginLink): void {
    link.idleIn = null;
    const list = this.idle.get(link.key);
    const at = list?.indexOf(link) ?? -1;
    if (at < 0) return;
    list!.splice(at, 1);
    this.total--;
    if (list!.length === 0) this.idle.delete(link.key);
  }

  /** Closes every idle connection (drain, stop). */
  close(): void {
    for (const list of this.idle.values()) for (const link of list) link.destroy();
    this.idle.clear();
    this.total = 0;
  }

  get size(): number {
    return this.total;
  }
}
