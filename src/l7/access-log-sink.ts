// The access log's own file sink (file and stderr destinations; stdout shares the operational logger's
// stream so the two never interleave mid-line). Lines are encoded straight into one of two 64 KB buffers;
// the filled buffer goes out with one async fs.write once per event-loop turn (or when full) while the
// other fills. When one buffer is in flight and the other is full, lines are dropped and counted rather
// than queued without bound or blocking the request path.
import fs from 'node:fs';
import path from 'node:path';

const SIZE = 65536;

export class AccessLogSink {
  /** Lines dropped because both buffers were busy (or a write failed). */
  dropped = 0;
  private readonly bufs = [Buffer.allocUnsafe(SIZE), Buffer.allocUnsafe(SIZE)];
  private fill = 0;
  private used = 0;
  private inFlight = false;
  private scheduled = false;
  private readonly flushNow = (): void => {
    this.scheduled = false;
    this.swap();
  };

  private readonly fd: number;

  constructor(fd: number) {
    this.fd = fd;
    // Last turn's lines on a normal exit; the in-flight buffer, if any, is already in the kernel's hands.
    process.once('exit', () => {
      if (this.used > 0) {
        try {
          fs.writeSync(this.fd, this.bufs[this.fill]!, 0, this.used);
        } catch {
          // exiting anyway
        }
      }
    });
  }

  /** Whole lines only (each ends in '\n'); pino calls this too for non-fast-path lines. */
  write(line: string): boolean {
    if (this.used + line.length * 3 > SIZE) {
      // The worst-case UTF-8 size does not fit: measure exactly, then start the other buffer if needed.
      const need = Buffer.byteLength(line);
      if (this.used + need > SIZE && (!this.swap() || need > SIZE)) {
        this.dropped++;
        return false;
      }
    }
    this.used += this.bufs[this.fill]!.write(line, this.used, 'utf8');
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
    return true;
  }

  /** Starts writing the filling buffer unless the other one is still in flight. */
  private swap(): boolean {
    if (this.used === 0) return true;
    if (this.inFlight) return false;
    const buf = this.bufs[this.fill]!;
    const len = this.used;
    this.fill ^= 1;
    this.used = 0;
    this.inFlight = true;
    this.send(buf, 0, len);
    return true;
  }

  private send(buf: Buffer, offset: number, len: number): void {
    fs.write(this.fd, buf, offset, len - offset, null, (err, written) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return void setImmediate(() => this.send(buf, offset, len));
        this.dropped++;
      } else if (offset + written < len) return void this.send(buf, offset + written, len);
      this.inFlight = false;
      if (this.used > 0 && !this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flushNow);
      }
    });
  }
}

/** Opens the access log file for appending (at start-up, so synchronously). */
export function openAccessLogSink(file: string | number): AccessLogSink {
  if (typeof file === 'number') return new AccessLogSink(file);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  return new AccessLogSink(fs.openSync(file, 'a'));
}
