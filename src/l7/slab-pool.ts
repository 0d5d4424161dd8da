// Fixed-size Buffers reused by the spill path of request buffering (copies of body bytes on their way to
// the spill file, and reads of it on their way upstream). Allocating a fresh Buffer per socket read makes
// external memory that V8 only collects when tens of MB have piled up; slabs from a pool make none.
// Contract: give() a slab back only once nothing (a file write, a socket write) still reads or writes it.

export class SlabPool {
  /** Bytes per slab. */
  readonly size: number;
  /** Free slabs kept at most; more given back are left to the GC (a burst does not stay resident). */
  private readonly keep: number;
  private readonly free: Buffer[] = [];

  constructor(size: number, keep: number) {
    this.size = size;
    this.keep = keep;
  }

  /** A slab with arbitrary contents. */
  take(): Buffer {
    // allocUnsafeSlow: its own memory, not a slice of the shared small-Buffer pool
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(slab: Buffer): void {
    if (this.free.length < this.keep) this.free.push(slab);
  }
}
