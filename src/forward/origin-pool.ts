// Idle keep-alive connections to origins, by destination (resolved address, port and the Host the request
// named: a virtual-hosting origin may answer differently per name, so connections are never shared across
// names). Most recently used first; an idle connection that sends a byte, ends, errs or outlives
// IDLE_TIMEOUT_MS is closed. Bounded per destination and in total.
import type net from 'node:net';

/** Shorter than the keep-alive timeouts of common origins (Node 5 s, nginx 75 s): we close first, not them. */
const IDLE_TIMEOUT_MS = 4000;
const MAX_IDLE_PER_ORIGIN = 32;
const MAX_IDLE_TOTAL = 1024;

function closeIdle(this: net.Socket): void {
  this.destroy();
}

export class OriginPool {
  private readonly idle = new Map<string, net.Socket[]>();
  /** The destination each idle connection waits for (to forget it when it closes). */
  private readonly keys = new Map<net.Socket, string>();
  /** One 'close' listener for every idle connection (no closure per put). */
  private readonly forgetClosed: (this: net.Socket) => void;

  constructor() {
    const keys = this.keys;
    const idle = this.idle;
    this.forgetClosed = function (this: net.Socket): void {
      const key = keys.get(this);
      if (key === undefined) return;
      keys.delete(this);
      const list = idle.get(key)!;
      list.splice(list.indexOf(this), 1);
      if (list.length === 0) idle.delete(key);
    };
  }

  /** An idle connection to `key`, now the caller's, or undefined. */
  take(key: string): net.Socket | undefined {
    const list = this.idle.get(key);
    while (list !== undefined && list.length > 0) {
      const socket = list.pop()!;
      this.keys.delete(socket);
      this.quiet(socket);
      if (!socket.destroyed && socket.writable && socket.readable) return socket;
      socket.destroy();
    }
    return undefined;
  }

  /** A connection whose exchange ended cleanly (the response read whole, the request sent whole). */
  put(key: string, socket: net.Socket): void {
    let list = this.idle.get(key);
    if (list === undefined) {
      list = [];
      this.idle.set(key, list);
    }
    if (list.length >= MAX_IDLE_PER_ORIGIN || this.keys.size >= MAX_IDLE_TOTAL) {
      socket.destroy();
      return;
    }
    list.push(socket);
    this.keys.set(socket, key);
    socket.on('data', closeIdle);
    socket.on('end', closeIdle);
    socket.on('timeout', closeIdle);
    socket.on('close', this.forgetClosed);
    socket.setTimeout(IDLE_TIMEOUT_MS);
    socket.resume();
  }

  /** Closes every idle connection (stop, drain). */
  close(): void {
    for (const list of this.idle.values()) for (const socket of list) socket.destroy();
    this.idle.clear();
    this.keys.clear();
  }

  get size(): number {
    return this.keys.size;
  }

  private quiet(socket: net.Socket): void {
    socket.off('data', closeIdle);
    socket.off('end', closeIdle);
    socket.off('timeout', closeIdle);
    socket.off('close', this.forgetClosed);
    socket.setTimeout(0);
    socket.pause();
  }
}
