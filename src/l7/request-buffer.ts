// Request buffering (config `request_buffering`): a request body is read whole before an upstream is
// picked, so a slow client holds no upstream connection, and a body that breaks its framing (or its
// content-length, on HTTP/2) is refused before anything went upstream. The body then goes upstream with a
// Content-Length the edge computed. Bodies up to memory_max stay in memory; a larger one spills to a
// temporary file under data_dir, written and read with async I/O only. The file is unlinked as soon as it
// is open (only its descriptor names it), so it is gone after the request — or after a crash — without a
// cleanup pass; SpillArea bounds the bytes all spilled bodies of one listener hold at once.
import path from 'node:path';
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type { ChunkSink } from './parse/chunked.ts';

const ignore = (): void => undefined;

/** Bytes queued for the spill file before the owner is asked to stop reading the client. */
const SPILL_HIGH_WATER = 256 * 1024;

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
  private writing = false;
  private reserved = 0;
  private completed = false;
  private disposed = false;
  private failed = false;
  private paused = false;
  private delivered = false;
  private reading: Readable | null = null;

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
    return this.reading !== null && !this.reading.readableEnded;
  }

  chunkData(buf: Buffer, s: number, e: number): void {
    this.add(buf, s, e);
  }

  /** Copies buf[s, e). Returns false when the caller should pause reading until bodyBufferDrained() (see `full`). */
  add(buf: Buffer, s: number, e: number): boolean {
    const n = e - s;
    if (n <= 0 || this.failed || this.disposed) return true;
    const copy = Buffer.allocUnsafe(n);
    buf.copy(copy, 0, s, e);
    this.length += n;
    const chunks = this.chunks;
    if (chunks !== null && this.length <= this.memoryMax) {
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
      this.queue.push(copy);
      this.queued += n;
      this.openFile();
    } else {
      this.queue.push(copy);
      this.queued += n;
      this.flush();
    }
    if (this.queued > SPILL_HIGH_WATER) this.paused = true;
    return !this.paused;
  }

  /** The body ended: bodyBuffered() follows once it is all in memory or on disk (at once when in memory). */
  complete(): void {
    this.completed = true;
    if (this.chunks !== null) this.owner.bodyBuffered();
    else this.flush();
  }

  /**
   * Writes the body to `socket` after the head: the in-memory chunks, or a stream of the spill file (piped,
   * so the socket's backpressure paces the reads). A previous stream (an earlier try) is stopped first.
   */
  writeTo(socket: Writable): boolean {
    this.stopReading();
    const chunks = this.chunks;
    if (chunks !== null) {
      let ok = true;
      for (const chunk of chunks) ok = socket.write(chunk);
      return ok;
    }
    const reading = this.file!.createReadStream({ start: 0, end: this.length - 1, autoClose: false, highWaterMark: 64 * 1024 });
    reading.on('error', () => socket.destroy());
    reading.pipe(socket, { end: false });
    this.reading = reading;
    return true;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stopReading();
    this.chunks = null;
    this.queue = [];
    this.spill.release(this.reserved);
    this.reserved = 0;
    // closed once the write in flight (if any) settles; flush() sees `disposed`
    if (!this.writing) this.closeFile();
  }

  /**
   * Detaches the stream of an earlier try. Not destroy(): a file stream's destroy closes its descriptor even
   * with autoClose off, and the next try reads the same file; left paused, it is dropped with the file.
   */
  private stopReading(): void {
    const reading = this.reading;
    if (reading === null) return;
    this.reading = null;
    reading.unpipe();
    reading.pause();
    reading.removeAllListeners('error');
    reading.on('error', ignore);
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
    this.queue = [];
    this.writing = true;
    this.file.writev(batch).then(
      () => {
        this.writing = false;
        for (const chunk of batch) this.queued -= chunk.length;
        this.flush();
      },
      () => {
        this.writing = false;
        this.fail(500);
      },
    );
  }
}
