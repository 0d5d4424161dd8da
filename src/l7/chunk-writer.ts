// Body bytes read into the shared buffer must be copied before they are written on (a write may finish
// later). Copying into fresh buffers makes 64 KB of garbage per read, which a fast transfer turns into
// tens of MB of RSS before the GC catches up; so bodies are copied into recycled chunks instead, and a
// chunk goes back to the listener's pool when its write has completed.

export const CHUNK_SIZE = 64 * 1024;

/** Free chunks of one listener (bounded: at most `max` are kept idle). */
export class ChunkPool {
  private readonly free: Buffer[] = [];
  private readonly max: number;

  constructor(max = 64) {
    this.max = max;
  }

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(CHUNK_SIZE);
  }

  give(chunk: Buffer): void {
    if (this.free.length < this.max) this.free.push(chunk);
  }
}

interface Writable {
  write(data: Uint8Array, callback: (err?: Error | null) => void): boolean;
}

/** Writes copies of byte ranges to one socket; writes complete in order, so a FIFO tracks the chunks. */
export class ChunkWriter {
  private readonly socket: Writable;
  private readonly pool: ChunkPool;
  private readonly inflight: Buffer[] = [];
  private readonly written: () => void;

  constructor(socket: Writable, pool: ChunkPool) {
    this.socket = socket;
    this.pool = pool;
    this.written = () => {
      const chunk = this.inflight.shift();
      if (chunk !== undefined) this.pool.give(chunk);
    };
  }

  /** Writes a copy of src[start, end); returns the socket's write() verdict (false: wait for 'drain'). */
  write(src: Buffer, start: number, end: number): boolean {
    let ok = true;
    while (start < end) {
      const n = end - start < CHUNK_SIZE ? end - start : CHUNK_SIZE;
      const chunk = this.pool.take();
      src.copy(chunk, 0, start, start + n);
      this.inflight.push(chunk);
      ok = this.socket.write(n === CHUNK_SIZE ? chunk : chunk.subarray(0, n), this.written);
      start += n;
    }
    return ok;
  }
}
