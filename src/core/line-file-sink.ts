// LineFileSink: an append-only log file written in large asynchronous writes, for the access log.
//
// Why not pino's sonic-boom: it keeps pending lines as one growing JS string (`buf += line`) until the
// in-flight write returns. At 50k lines/s those strings survive scavenges, get promoted and are only
// freed by full GCs: the access log alone added ~100 MB to a worker's peak RSS and ~3 µs of CPU per
// request in bench/http1. Here each line is encoded at once into a 64 KB off-heap buffer (the JS string
// dies young), and full buffers are written in order with one fs.write each, on the thread pool. A buffer
// that is not full goes out after at most `flushMs` (like nginx's `access_log … buffer= flush=`): writing
// once per event-loop turn instead cost a thread-pool round trip every few requests, more than the
// encoding itself.
//
// Nothing is dropped while less than `maxQueuedBytes` waits for the disk; past that (the disk stalled),
// whole lines are dropped and counted instead of growing memory without bound, and the caller's
// `onDrop` hears about it once per written buffer (never on the request path).
//
// On stdout or stderr (LineFileSink.standard) the fd may be a pipe or a socket shared with other processes
// (the primary and every worker write to the same container pipe or journald stream): there each write
// ends at a line's end and is no larger than what the kernel delivers whole, so it never interleaves
// another process's bytes inside a line (a longer single line goes alone). On a pipe that is PIPE_BUF
// (4 KB, POSIX). On a Unix stream socket (journald, a Node parent's stdio) Linux queues each write of up to
// ~36 KB as one buffer (net/unix/af_unix.c: one skb of a 4 KB head and up to 32 KB of pages; under half the
// send buffer), which the reader takes in order and another writer cannot split: there writes go up to
// 16 KB. Each write through the thread pool costs ~20–25 µs of CPU (the hand-off and the wake-up back, for
// a 3 µs syscall): sixteen per 64 KB buffer made ~1.5 µs per request of the defaults' access log on a
// pipe, four make ~0.3 µs on a socket. A pipe does better still: it is reopened through /proc/self/fd as a
// description of its own, non-blocking, and written from the event loop: a write either lands whole at
// once or fails with EAGAIN (the pipe is full: the reader is behind), never blocks, and the shared
// description's flags stay as they were. Where that reopening fails (no /proc), writes go through the
// thread pool as for files; Node makes a stdio pipe blocking at start-up, so a full pipe then holds a
// thread-pool write. Either way a full pipe's EAGAIN is waited out, not counted as lost — except at exit,
// where a reader that stopped reading gets EXIT_PIPE_WAIT_MS and no more (flushSync): the rest is dropped,
// and a line longer than PIPE_BUF that the pipe took in part stays cut.
import fs from 'node:fs';
import path from 'node:path';

const BUFFER_SIZE = 64 * 1024;
/** Linux's PIPE_BUF: a write to a pipe of at most this many bytes is atomic. */
const PIPE_BUF = 4096;
/** The largest write to a Unix stream socket kept whole (one skb; see above), with room to spare. */
const SOCKET_WRITE = 16 * 1024;
/** How long a write to a full pipe waits before it is tried again. */
const PIPE_FULL_RETRY_MS = 5;
/** At exit, how long in all a full pipe is waited for before what is left is dropped. */
const EXIT_PIPE_WAIT_MS = 500;
/** Something to sleep on at exit (Atomics.wait), between tries of a full pipe. */
const exitSleep = new Int32Array(new SharedArrayBuffer(4));
/** Spare buffers kept for reuse; more than this are left to the GC after a burst. */
const SPARES = 4;

export interface LineFileSinkOptions {
  /** Longest time a line waits in a buffer that is not full (default 100 ms). */
  flushMs?: number;
  /** Bytes waiting for the disk beyond which lines are dropped (default 32 MB). */
  maxQueuedBytes?: number;
  /** Told how many lines were dropped since the last report; called from a write callback. */
  onDrop?: (lines: number) => void;
}

/**
 * A description of its own for the pipe on `fd`, non-blocking (Linux: opening /proc/self/fd/N of a pipe
 * opens that pipe anew); undefined where that is not possible.
 */
function reopenNonBlocking(fd: number): number | undefined {
  try {
    return fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
}

function linesIn(buf: Buffer, from: number, to: number): number {
  let lines = 0;
  for (let i = from; i < to; i++) if (buf[i] === 0x0a) lines++;
  return lines;
}

export class LineFileSink {
  /** Lines dropped since the sink opened: the disk did not keep up, or a write failed. */
  dropped = 0;
  private reportedDrops = 0;
  private readonly fd: number;
  private readonly maxQueuedBytes: number;
  private readonly onDrop: ((lines: number) => void) | undefined;
  private current: Buffer = Buffer.allocUnsafe(BUFFER_SIZE);
  private used = 0;
  /** Filled buffers (with their lengths) waiting for the disk, oldest first; the head may be in flight. */
  private readonly queue: Array<{ buf: Buffer; len: number }> = [];
  private queuedBytes = 0;
  private writing = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly flushMs: number;
  private timerArmed = false;
  private closed = false;
  /** Writes end at a line's end within this many bytes (a pipe or socket shared with other writers); 0: no limit. */
  private readonly writeLimit: number;
  /** The fd belongs to the process (stdout, stderr): never closed here. */
  private readonly borrowed: boolean;
  /** A non-blocking description of the same pipe, written from the event loop (closed here); -1: none. */
  private readonly directFd: number;
  /** Bytes of the queue's head already written by direct writes. */
  private headWritten = 0;
  /** The retry of a direct write that met a full pipe, while it waits. */
  private pipeRetry: NodeJS.Timeout | null = null;
  private readonly onPipeRoom = (): void => {
    this.pipeRetry = null;
    this.writeDirect();
  };
  private readonly spares: Buffer[] = [];
  private readonly flushWaiters: Array<() => void> = [];
  private readonly onFlushTimer = (): void => {
    this.timerArmed = false;
    this.seal();
    this.pump();
  };
  private readonly onExit = (): void => this.flushSync();

  /** Opens (creating directories) `file` for appending. Start-up only: it opens synchronously. */
  static open(file: string, options: LineFileSinkOptions = {}): LineFileSink {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    return new LineFileSink(fs.openSync(file, 'a'), options);
  }

  /** The process's stdout (1) or stderr (2). Start-up only: it stats the fd synchronously. */
  static standard(fd: 1 | 2, options: LineFileSinkOptions = {}): LineFileSink {
    const stat = fs.fstatSync(fd);
    const direct = stat.isFIFO() ? reopenNonBlocking(fd) : undefined;
    return new LineFileSink(fd, options, { writeLimit: stat.isFIFO() ? PIPE_BUF : stat.isSocket() ? SOCKET_WRITE : 0, borrowed: true, direct });
  }

  constructor(fd: number, options: LineFileSinkOptions = {}, kind: { writeLimit: number; borrowed: boolean; direct?: number } = { writeLimit: 0, borrowed: false }) {
    this.fd = fd;
    this.writeLimit = kind.writeLimit;
    this.borrowed = kind.borrowed;
    this.directFd = kind.direct ?? -1;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 32 * 1024 * 1024;
    this.onDrop = options.onDrop;
    this.flushMs = options.flushMs ?? 100;
    // Lines of the last turn still reach the file on a normal exit (process.exit included).
    process.once('exit', this.onExit);
  }

  /** Appends whole lines (each ending in '\n'). Returns false when the line was dropped. */
  write(line: string): boolean {
    if (this.closed) return false;
    // Worst case 3 bytes per UTF-16 unit; measure exactly only when that bound does not fit.
    if (this.used + line.length * 3 > BUFFER_SIZE) {
      const need = Buffer.byteLength(line);
      if (this.used + need > BUFFER_SIZE) {
        const room = this.makeRoom(need);
        if (room !== 0) return room > 0 && this.enqueueLarge(Buffer.from(line), need);
      }
    }
    this.used += this.current.write(line, this.used, 'utf8');
    this.armTimer();
    return true;
  }

  /** Appends src[start, end): whole lines already encoded (the access log's AccessLine). */
  writeBytes(src: Buffer, start: number, end: number): boolean {
    if (this.closed) return false;
    const need = end - start;
    if (this.used + need > BUFFER_SIZE) {
      const room = this.makeRoom(need);
      if (room !== 0) return room > 0 && this.enqueueLarge(Buffer.from(src.subarray(start, end)), need);
    }
    src.copy(this.current, this.used, start, end);
    this.used += need;
    this.armTimer();
    return true;
  }

  /**
   * Before `need` bytes that do not fit the filling buffer: queues that buffer. 0: they fit the fresh one;
   * 1: larger than a buffer, the caller queues them on their own; -1: dropped (the queue is full).
   */
  private makeRoom(need: number): number {
    // the filling buffer must join the queue first; with no room there, this line is the one dropped
    if (this.queuedBytes + this.used + (need > BUFFER_SIZE ? need : 0) > this.maxQueuedBytes) {
      this.dropped++;
      return -1;
    }
    this.seal();
    this.pump();
    return need > BUFFER_SIZE ? 1 : 0;
  }

  private enqueueLarge(buf: Buffer, len: number): boolean {
    this.enqueue(buf, len);
    this.pump();
    return true;
  }

  private armTimer(): void {
    if (this.timerArmed) return;
    this.timerArmed = true;
    // one timer for the sink's life: a fired timer re-arms with refresh(), without a new object
    if (this.flushTimer === null) this.flushTimer = setTimeout(this.onFlushTimer, this.flushMs).unref();
    else this.flushTimer.refresh();
  }

  /** Calls back once everything written so far has reached the file. */
  flush(callback?: () => void): void {
    this.seal();
    if (callback !== undefined) {
      if (this.queue.length === 0) {
        queueMicrotask(callback);
        return;
      }
      this.flushWaiters.push(callback);
      this.pipeRetry?.ref();
    }
    this.pump();
  }

  /**
   * Writes what is buffered synchronously: for exit paths only. On a pipe it writes through the
   * non-blocking description and waits for room at most EXIT_PIPE_WAIT_MS in all: a reader that stopped
   * reading must not hold the process at exit (a blocking write to a full pipe never returns, and Node's
   * exit waits for a thread-pool write in flight), so what it has not taken by then is dropped and counted.
   */
  flushSync(): void {
    this.seal();
    // The head of the queue may be in flight on the thread pool: it is not written twice, and (exit only)
    // it may land after the lines written here.
    // (direct writes never leave a write in flight: their head is only partly written, from headWritten)
    const start = this.writing && this.directFd < 0 ? 1 : 0;
    const fd = this.directFd >= 0 ? this.directFd : this.fd;
    let giveUpAt = -1;
    for (let i = start; i < this.queue.length; i++) {
      const { buf, len } = this.queue[i]!;
      let off = i === 0 ? this.headWritten : 0;
      while (off < len) {
        try {
          off += fs.writeSync(fd, buf, off, this.writeLength(buf, off, len));
          continue;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
            if (giveUpAt < 0) giveUpAt = Date.now() + EXIT_PIPE_WAIT_MS;
            if (Date.now() < giveUpAt) {
              Atomics.wait(exitSleep, 0, 0, PIPE_FULL_RETRY_MS); // exiting: nothing else is left to run
              continue;
            }
          }
        }
        // a broken file, or a reader that stopped reading: the rest is lost
        this.dropped += linesIn(buf, off, len);
        for (let j = i + 1; j < this.queue.length; j++) this.dropped += linesIn(this.queue[j]!.buf, 0, this.queue[j]!.len);
        i = this.queue.length;
        break;
      }
    }
    this.queue.length = start;
    this.queuedBytes = start === 1 ? this.queue[0]!.len : 0;
    this.headWritten = 0;
  }

  /** Writes go through a non-blocking description of a pipe of its own (never block a thread). */
  get nonBlocking(): boolean {
    return this.directFd >= 0;
  }

  /** Stops accepting lines, writes what is left and closes the file. */
  close(callback?: () => void): void {
    if (this.closed) return callback?.();
    this.closed = true;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flush(() => {
      process.removeListener('exit', this.onExit);
      if (this.directFd >= 0) fs.close(this.directFd, () => {});
      if (this.borrowed) callback?.();
      else fs.close(this.fd, () => callback?.());
    });
  }

  /** Moves the filling buffer to the write queue. */
  private seal(): void {
    if (this.used === 0) return;
    const buf = this.current;
    const len = this.used;
    this.current = this.spares.pop() ?? Buffer.allocUnsafe(BUFFER_SIZE);
    this.used = 0;
    this.enqueue(buf, len);
  }

  /** Capacity is checked before (makeRoom): a sealed buffer is never dropped whole. */
  private enqueue(buf: Buffer, len: number): void {
    this.queue.push({ buf, len });
    this.queuedBytes += len;
  }

  private pump(): void {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    if (this.directFd >= 0) this.writeDirect();
    else this.writeFrom(0);
  }

  /**
   * Writes the queue on the non-blocking description until it is empty or the pipe is full (then again in
   * PIPE_FULL_RETRY_MS: nothing says when a pipe has room). Each write is at most PIPE_BUF bytes ending at
   * a line's end, so it lands whole or not at all.
   */
  private writeDirect(): void {
    while (this.queue.length > 0) {
      const { buf, len } = this.queue[0]!;
      let failed = false;
      while (this.headWritten < len) {
        try {
          this.headWritten += fs.writeSync(this.directFd, buf, this.headWritten, this.writeLength(buf, this.headWritten, len));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
            // a flush() waiting on these lines keeps the process up (flush refs it); otherwise the exit handler writes them
            this.pipeRetry = setTimeout(this.onPipeRoom, PIPE_FULL_RETRY_MS);
            if (this.flushWaiters.length === 0) this.pipeRetry.unref();
            return;
          }
          failed = true;
          break;
        }
      }
      this.headDone(buf, len, failed ? this.headWritten : -1);
      this.headWritten = 0;
    }
    this.writing = false;
    this.reportDrops();
    // flush() callers are never called back from inside flush()
    if (this.flushWaiters.length > 0) queueMicrotask(this.wakeFlushWaiters);
  }

  private readonly wakeFlushWaiters = (): void => {
    if (this.queue.length === 0) for (const waiter of this.flushWaiters.splice(0)) waiter();
  };

  /** The queue's head is written (failedFrom < 0) or its write failed from that offset: its lines are lost. */
  private headDone(buf: Buffer, len: number, failedFrom: number): void {
    if (failedFrom >= 0) this.dropped += linesIn(buf, failedFrom, len);
    this.queue.shift();
    this.queuedBytes -= len;
    if (buf.length === BUFFER_SIZE && this.spares.length < SPARES) this.spares.push(buf);
  }

  private reportDrops(): void {
    if (this.dropped === this.reportedDrops) return;
    const lines = this.dropped - this.reportedDrops;
    this.reportedDrops = this.dropped;
    this.onDrop?.(lines);
  }

  /** Bytes of buf[off, len) the next write takes: all of them, or on a pipe or socket whole lines within writeLimit. */
  private writeLength(buf: Buffer, off: number, len: number): number {
    const limit = this.writeLimit;
    if (limit === 0 || len - off <= limit) return len - off;
    const lastLineEnd = buf.lastIndexOf(0x0a, off + limit - 1);
    if (lastLineEnd >= off) return lastLineEnd + 1 - off;
    // one line longer than the limit: it goes alone (it may be interleaved; nothing can prevent that)
    const end = buf.indexOf(0x0a, off);
    return end < 0 || end >= len ? len - off : end + 1 - off;
  }

  private writeFrom(offset: number): void {
    const { buf, len } = this.queue[0]!;
    fs.write(this.fd, buf, offset, this.writeLength(buf, offset, len), null, (err, written) => {
      if (err !== null && (err as NodeJS.ErrnoException).code === 'EAGAIN') {
        // a full non-blocking pipe: the reader is behind, nothing is lost yet
        setTimeout(() => this.writeFrom(offset), PIPE_FULL_RETRY_MS).unref();
        return;
      }
      if (err === null && offset + written < len) return this.writeFrom(offset + written);
      this.headDone(buf, len, err !== null ? offset : -1); // a failed write did not store the rest
      this.writing = false;
      this.reportDrops();
      if (this.queue.length > 0) this.pump();
      else for (const waiter of this.flushWaiters.splice(0)) waiter();
    });
  }
}
