// One direction of a TCP tunnel without a Buffer per read: the source socket reads (`onread`) into a
// 64 KiB buffer that is reused while the destination takes each chunk at once. Node's default read path
// allocates a fresh 64 KiB buffer per read; under jemalloc those land on untouched pages, and the page
// faults in read() cost more than the copy itself (bench/RESULTS-l4.md).
//
// A write the kernel does not take whole stays pending and keeps referring to the bytes it was given: that
// buffer is then set aside ("held") and the next read goes into another one from the listener's pool;
// held buffers return to the pool once the destination has flushed everything. Small reads are copied
// into a right-sized buffer instead, so a trickle of tiny chunks never holds 64 KiB each.
// Backpressure as pipe() has it: when the destination's write() says "enough", the source stops reading
// (returning false from the onread callback stops the handle) until the destination drains.
import type net from 'node:net';

export const READ_BUFFER_SIZE = 64 * 1024;
/** Reads shorter than this are copied out, so the buffer they arrived in stays free for the next read. */
const COPY_BELOW = 4 * 1024;

/** Free read buffers of one listener (at most `max` kept idle). */
export class ReadBufferPool {
  private readonly free: Buffer[] = [];
  private readonly max: number;

  constructor(max = 64) {
    this.max = max;
  }

  take(): Buffer {
    // allocUnsafeSlow: a buffer of its own, not a slice of Node's shared pool
    return this.free.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
  }

  give(buffer: Buffer): void {
    if (this.free.length < this.max) this.free.push(buffer);
  }

  get idle(): number {
    return this.free.length;
  }
}

export class Relay {
  private readonly pool: ReadBufferPool;
  private from: net.Socket | null = null;
  private to: net.Socket | null = null;
  /** Where the next read lands (null: take one from the pool). */
  private current: Buffer | null = null;
  /** Buffers a pending write of `to` still refers to. */
  private readonly held: Buffer[] = [];
  private waiting = false;

  constructor(pool: ReadBufferPool) {
    this.pool = pool;
  }

  /** The `onread` option of the source socket (its buffer is asked for again after every read). */
  readonly onread = {
    buffer: (): Buffer => (this.current ??= this.pool.take()),
    callback: (nread: number, buffer: Buffer): boolean => this.forward(nread, buffer),
  };

  /** Both ends, once the destination is connected (the source does not read before: it is created paused). */
  connect(from: net.Socket, to: net.Socket): void {
    this.from = from;
    this.to = to;
    // the source's end of stream ends the destination's writes after what is queued (half-close)
    from.once('end', () => to.end());
  }

  /** The tunnel closed (both sockets): every buffer goes back to the pool. */
  release(): void {
    for (const buffer of this.held) this.pool.give(buffer);
    this.held.length = 0;
    if (this.current !== null) this.pool.give(this.current);
    this.current = null;
  }

  private forward(nread: number, buffer: Buffer): boolean {
    const to = this.to!;
    if (this.held.length > 0 && to.writableLength === 0) this.recycle();
    let ok: boolean;
    if (nread < COPY_BELOW) {
      const copy = Buffer.allocUnsafe(nread);
      buffer.copy(copy, 0, 0, nread);
      ok = to.write(copy);
    } else {
      ok = to.write(nread === buffer.length ? buffer : buffer.subarray(0, nread));
      // the kernel did not take it all: the write keeps these bytes, so the next read needs another buffer
      if (to.writableLength !== 0) {
        this.held.push(buffer);
        if (this.current === buffer) this.current = null;
      }
    }
    if (ok) return true;
    if (!this.waiting) {
      this.waiting = true;
      to.once('drain', this.drained);
    }
    return false;
  }

  private readonly drained = (): void => {
    this.waiting = false;
    this.recycle();
    this.from?.resume();
  };

  private recycle(): void {
    for (const buffer of this.held) if (buffer !== this.current) this.pool.give(buffer);
    this.held.length = 0;
  }
}
