// Request buffering (config `request_buffering`): a request body is read whole before an upstream is
// picked, so a slow client holds no upstream connection, and a body that breaks its framing (or its
// content-length, on HTTP/2) is refused before anything went upstream. The body then goes upstream with a
// Content-Length the edge computed. Bodies up to memory_max stay in memory; a larger one spills to a
// temporary file under data_dir, written and read with async I/O only. The file is unlinked as soon as it
// is open (only its descriptor names it), so it is gone after the request — or after a crash — without a
// cleanup pass; SpillArea bounds the bytes all spilled bodies of one listener hold at once.
// Past memory_max the bytes travel in slabs of the spill area's pool (copied into one, written to the file,
// read back into one, written upstream), so a large upload leaves no per-read garbage behind.
import path from 'node:path';
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { ChunkSink } from './parse/chunked.ts';
import { SlabPool } from './slab-pool.ts';
import { SpillReader } from './spill-reader.ts';

/** Bytes queued for the spill file before the owner is asked to stop reading the client. */
const SPILL_HIGH_WATER = 256 * 1024;
/** Slab size: one socket read fills about one (the listener reads 64 KB at a time). */
const SLAB_SIZE = 64 * 1024;
/** Free slabs a listener keeps (2 MB): enough for a few concurrent spilled bodies without allocating. */
const SLABS_KEPT = 32;

/** What a RequestBuffer reports to the exchange that reads the body. Called from I/O callbacks: must not throw. */
export interface BufferOwner {
  /** The whole body is here (in memory, or written to the spill file): the request may go upstream. */
  bodyBuffered(): void;
  /** Spilling failed (disk full, spill_max_total reached, I/O error): the request gets `status`. */
  bodyBufferFailed(status: number): void;
  /** The spill writes caught up after add() returned false: reading the client may resume. */
  bodyBufferDrained(): void;
}

/**
 * The spill directory and the byte budget all spilled bodies of one listener share (per worker).
 * Owned by the listener; `used` changes only through reserve() and release().
 */
export class SpillArea {
  readonly dir: string;
  /** request_buffering.spill_max_total (a reload may change it; bodies already spilled keep their bytes). */
  maxTotal: number;
  used = 0;
  /** Slabs for spilled bodies on their way to and from their files. */
  readonly slabs = new SlabPool(SLAB_SIZE, SLABS_KEPT);
  private counter = 0;
  private ready: Promise<unknown> | null = null;

  constructor(dataDir: string, maxTotal: number) {
    this.dir = path.join(dataDir, 'request-bodies');
    this.maxTotal = maxTotal;
  }

  reserve(bytes: number): boolean {
    if (this.used + bytes > this.maxTotal) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }

  /** A new, already unlinked file for one body (the directory is created on first use). */
  async create(): Promise<FileHandle> {
    await (this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }));
    const file = path.join(this.dir, `${process.pid}-${this.counter++}.body`);
    const handle = await open(file, 'wx+', 0o600);
    await unlink(file);
    return handle;
  }
}

/**
 * One request's body while it is buffered. The caller feeds payload bytes with add() (or, for chunked
 * bodies, as the ChunkSink of the decoder), calls complete() at the end of the body, and dispose() when
 * the exchange ends (always: it returns the spill budget and closes the file).
 */
export class RequestBuffer implements ChunkSink {
  /** Payload bytes received so far. */
  length = 0;
  /** In-memory body (null once it spilled). */
  chunks: Buffer[] | null = [];
  private readonly memoryMax: number;
  private readonly spill: SpillArea;
  private readonly owner: BufferOwner;
  private file: FileHandle | null = null;
  /** Chunks waiting for the spill file (while it opens, or while a write is in flight). */
  private queue: Buffer[] = [];
  private queued = 0;
  /** The pool slabs among `queue` (given back once written). */
  private queueSlabs: Buffer[] = [];
  /** The slab being filled (past memory_max), and how many bytes of it are filled. */
  private slab: Buffer | null = null;
  private slabFill = 0;
  private writing = false;
  private reserved = 0;
  private completed = false;
  private disposed = false;
  private failed = false;
  private paused = false;
  private delivered = false;
  private reader: SpillReader | null = null;

  constructor(memoryMax: number, spill: SpillArea, owner: BufferOwner) {
    this.memoryMax = memoryMax;
    this.spill = spill;
    this.owner = owner;
  }

  /** The body is one in-memory chunk (the common small body): it can go out with the head in one write. */
  get single(): Buffer | null {
    const chunks = this.chunks;
    return chunks !== null && chunks.length === 1 ? chunks[0] : null;
  }

  /** Spill writes are behind: the caller should stop reading the client until bodyBufferDrained(). */
  get full(): boolean {
    return this.paused;
  }

  /** A spilled body is still streaming to the upstream socket (that connection is not reusable yet). */
  get sending(): boolean {
    return this.reader !== null && !this.reader.done;
  }

  chunkData(buf: Buffer, s: number, e: number): void {
    this.add(buf, s, e);
  }

  /**
   * Copies buf[s, e) (callers hand over views of a shared read buffer or of a frame: always copied). Returns
   * false when the caller should pause reading until bodyBufferDrained() (see `full`).
   */
  add(buf: Buffer, s: number, e: number): boolean {
    const n = e - s;
    if (n <= 0 || this.failed || this.disposed) return true;
    this.length += n;
    const chunks = this.chunks;
    if (chunks !== null && this.length <= this.memoryMax) {
      const copy = Buffer.allocUnsafe(n);
      buf.copy(copy, 0, s, e);
      chunks.push(copy);
      return true;
    }
    if (!this.spill.reserve(n)) {
      this.fail(503);
      return true;
    }
    this.reserved += n;
    if (chunks !== null) {
      // crossing memory_max: what was in memory goes to the file first, then this chunk
      this.chunks = null;
      for (const chunk of chunks) {
        if (!this.spill.reserve(chunk.length)) {
          this.fail(503);
          return true;
        }
        this.reserved += chunk.length;
        this.queue.push(chunk);
        this.queued += chunk.length;
      }
      this.copyToSlabs(buf, s, e);
      this.openFile();
    } else {
      this.copyToSlabs(buf, s, e);
      this.flush();
    }
    if (this.queued > SPILL_HIGH_WATER) this.paused = true;
    return !this.paused;
  }

  /** The body ended: bodyBuffered() follows once it is all in memory or on disk (at once when in memory). */
  complete(): void {
    this.completed = true;
    if (this.chunks !== null) return this.owner.bodyBuffered();
    const slab = this.slab;
    if (slab !== null && !this.failed) {
      this.slab = null;
      this.queueSlab(slab, this.slabFill);
    }
    this.flush();
  }

  /**
   * Writes the body to `socket` after the head: the in-memory chunks, or the spill file from its start
   * through a SpillReader (the socket's backpressure paces the reads). A previous send (an earlier try) is
   * stopped first.
   */
  writeTo(socket: Writable): boolean {
    this.stopReading();
    const chunks = this.chunks;
    if (chunks !== null) {
      let ok = true;
      for (const chunk of chunks) ok = socket.write(chunk);
      return ok;
    }
    this.reader = new SpillReader(this.file!, this.length, socket, this.spill.slabs);
    return true;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stopReading();
    this.chunks = null;
    this.queue = [];
    // slabs not yet handed to a write; those of a write in flight come back when it settles
    const slabs = this.spill.slabs;
    for (const slab of this.queueSlabs) slabs.give(slab);
    this.queueSlabs = [];
    if (this.slab !== null) slabs.give(this.slab);
    this.slab = null;
    this.spill.release(this.reserved);
    this.reserved = 0;
    // closed once the write in flight (if any) settles; flush() sees `disposed`
    if (!this.writing) this.closeFile();
  }

  /** Stops the send of an earlier try (the file stays open: the next try reads it again). */
  private stopReading(): void {
    this.reader?.stop();
    this.reader = null;
  }

  /** Copies buf[s, e) into slabs; each full one joins the queue for the file. */
  private copyToSlabs(buf: Buffer, s: number, e: number): void {
    const slabs = this.spill.slabs;
    while (s < e) {
      const slab = (this.slab ??= slabs.take());
      const n = Math.min(e - s, slab.length - this.slabFill);
      buf.copy(slab, this.slabFill, s, s + n);
      this.slabFill += n;
      s += n;
      if (this.slabFill === slab.length) {
        this.slab = null;
        this.queueSlab(slab, slab.length);
      }
    }
  }

  /** Queues slab[0, bytes) for the file; the slab goes back to the pool once written. */
  private queueSlab(slab: Buffer, bytes: number): void {
    this.slabFill = 0;
    this.queue.push(bytes === slab.length ? slab : slab.subarray(0, bytes));
    this.queued += bytes;
    this.queueSlabs.push(slab);
  }

  private closeFile(): void {
    const file = this.file;
    this.file = null;
    file?.close().catch(() => undefined);
  }

  private fail(status: number): void {
    if (this.failed || this.disposed) return;
    this.failed = true;
    this.owner.bodyBufferFailed(status);
  }

  private openFile(): void {
    this.writing = true;
    this.spill.create().then(
      (file) => {
        this.file = file;
        this.writing = false;
        if (this.disposed) this.closeFile();
        else this.flush();
      },
      () => {
        this.writing = false;
        this.fail(500);
      },
    );
  }

  /** Writes what is queued (one writev at a time, in order); reports the end of the body or a drain. */
  private flush(): void {
    if (this.writing || this.file === null || this.failed) return;
    if (this.disposed) {
      this.closeFile();
      return;
    }
    if (this.queue.length === 0) {
      if (this.paused) {
        this.paused = false;
        this.owner.bodyBufferDrained();
      }
      if (this.completed && !this.delivered) {
        this.delivered = true;
        this.owner.bodyBuffered();
      }
      return;
    }
    const batch = this.queue;
    const batchSlabs = this.queueSlabs;
    this.queue = [];
    this.queueSlabs = [];
    this.writing = true;
    this.file.writev(batch).then(
      () => {
        this.writing = false;
        for (const chunk of batch) this.queued -= chunk.length;
        this.giveSlabs(batchSlabs);
        this.flush();
      },
      () => {
        this.writing = false;
        this.giveSlabs(batchSlabs);
        if (this.disposed) this.closeFile();
        else this.fail(500);
      },
    );
  }

  private giveSlabs(slabs: Buffer[]): void {
    for (const slab of slabs) this.spill.slabs.give(slab);
  }
}
