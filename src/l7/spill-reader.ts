// Sends a spilled request body (see request-buffer.ts) from its file to an upstream socket. Two slabs of
// the spill area's pool carry it: one is read from the file while the other is in the socket, and a slab
// is read into again only after the socket's write callback (the bytes are in the kernel then). The
// socket's backpressure holds: after a write() that returned false nothing more is written before 'drain'
// (a slab already read waits for it), so at most two slabs per body are in use at any time.
import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { SlabPool } from './slab-pool.ts';

const SLABS = 2;

export class SpillReader {
  private readonly file: FileHandle;
  private readonly length: number;
  private readonly socket: Writable;
  private readonly pool: SlabPool;
  /** File offset of the next read. */
  private readPos = 0;
  private reading = false;
  /** Waiting for the socket's 'drain'. */
  private waiting = false;
  private stopped = false;
  /** Slabs taken from the pool (at most SLABS). */
  private taken = 0;
  private readonly free: Buffer[] = [];
  /** Slabs read and not yet written (waiting for 'drain'), in file order, with their byte counts. */
  private readonly ready: Buffer[] = [];
  private readonly readyBytes: number[] = [];

  constructor(file: FileHandle, length: number, socket: Writable, pool: SlabPool) {
    this.file = file;
    this.length = length;
    this.socket = socket;
    this.pool = pool;
    this.pump();
  }

  /** Every byte of the body was handed to the socket (it may still be in the socket's queue). */
  get done(): boolean {
    return this.readPos >= this.length && !this.reading && this.ready.length === 0;
  }

  /**
   * Stops this send (a retry sends again on another socket, or the exchange ended). Free slabs go back to
   * the pool now; a slab still in a read or in the socket goes back when that finishes.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.socket.off('drain', this.onDrain);
    for (const slab of this.free) this.pool.give(slab);
    for (const slab of this.ready) this.pool.give(slab);
    this.free.length = 0;
    this.ready.length = 0;
    this.readyBytes.length = 0;
  }

  private pump(): void {
    while (!this.waiting && this.ready.length > 0) this.write(this.ready.shift()!, this.readyBytes.shift()!);
    if (this.reading || this.stopped || this.readPos >= this.length) return;
    let slab = this.free.pop();
    if (slab === undefined) {
      if (this.taken === SLABS) return;
      this.taken++;
      slab = this.pool.take();
    }
    const want = Math.min(slab.length, this.length - this.readPos);
    this.reading = true;
    this.file
      .read(slab, 0, want, this.readPos)
      .then(
        ({ bytesRead }) => this.onRead(slab, bytesRead),
        () => this.onRead(slab, 0),
      )
      .catch(() => this.socket.destroy());
  }

  private onRead(slab: Buffer, bytes: number): void {
    this.reading = false;
    if (this.stopped) {
      this.pool.give(slab);
      return;
    }
    if (bytes <= 0) {
      // the file is shorter than the body it holds, or unreadable: the upstream must not see a short body
      this.stop();
      this.pool.give(slab);
      this.socket.destroy();
      return;
    }
    this.readPos += bytes;
    this.ready.push(slab);
    this.readyBytes.push(bytes);
    this.pump();
  }

  private write(slab: Buffer, bytes: number): void {
    const ok = this.socket.write(bytes === slab.length ? slab : slab.subarray(0, bytes), (err) => this.written(slab, err));
    if (!ok) {
      this.waiting = true;
      this.socket.once('drain', this.onDrain);
    }
  }

  /** The socket is done with `slab` (written to the kernel, or dropped with the socket). */
  private written(slab: Buffer, err: Error | null | undefined): void {
    if (err) this.stop();
    if (this.stopped) {
      this.pool.give(slab);
      return;
    }
    this.free.push(slab);
    this.pump();
  }

  private readonly onDrain = (): void => {
    this.waiting = false;
    if (!this.stopped) this.pump();
  };
}
