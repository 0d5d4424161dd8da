// What a connection has to write, gathered until the end of the event-loop turn and written at once: the
// frames of every stream answered in one turn go out in one socket write (one TLS record where they fit)
// instead of one write per frame. Small frames are copied into a chunk; large DATA payloads (already a
// private copy: the L7 bridge copies what it reads) are written as they are.
import type { Socket } from 'node:net';
import { FRAME_HEADER, writeFrameHeader } from './frames.ts';

const CHUNK = 16 * 1024;
/** Payloads longer than this are queued by reference instead of copied. */
export const COPY_LIMIT = 1024;
/** Payloads up to this size are copied by a loop. */
const SHORT_COPY = 64;

export interface Flushable {
  flush(): void;
}

// one setImmediate for all connections with output, not one per connection
let due: Flushable[] = [];
let scheduled = false;
function flushAll(): void {
  scheduled = false;
  const list = due;
  due = [];
  for (let i = 0; i < list.length; i++) list[i].flush();
}

export class FrameOutput implements Flushable {
  private readonly socket: Socket;
  /** Full chunks and referenced payloads, in order, before `buf`. */
  private parts: Buffer[] = [];
  private buf: Buffer | null = null;
  private used = 0;
  private queued = false;
  /** Bytes gathered and not yet handed to the socket. */
  pending = 0;
  /** Counts flushes: a frame written in the same flush period may still be changed in place. */
  flushes = 0;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  /** Room for `size` contiguous bytes in the current chunk; returns the offset to write at. */
  reserve(size: number): number {
    if (this.buf === null || this.used + size > this.buf.length) {
      if (this.buf !== null && this.used > 0) this.parts.push(this.buf.subarray(0, this.used));
      this.buf = Buffer.allocUnsafe(Math.max(CHUNK, size));
      this.used = 0;
    }
    const at = this.used;
    this.used += size;
    this.pending += size;
    this.schedule();
    return at;
  }

  /** The chunk reserve() returned an offset into. */
  get chunk(): Buffer {
    return this.buf!;
  }

  /** Gives back the unused end of the last reservation. */
  shrink(unused: number): void {
    this.used -= unused;
    this.pending -= unused;
  }

  frame(type: number, flags: number, streamId: number, payload: Buffer | null, start = 0, end = payload === null ? 0 : payload.length): void {
    const length = end - start;
    if (payload !== null && length > COPY_LIMIT) {
      const at = this.reserve(FRAME_HEADER);
      writeFrameHeader(this.buf!, at, length, type, flags, streamId);
      this.parts.push(this.buf!.subarray(0, this.used));
      this.buf = this.buf!.subarray(this.used);
      this.used = 0;
      this.parts.push(start === 0 && end === payload.length ? payload : payload.subarray(start, end));
      this.pending += length;
      return;
    }
    const at = this.reserve(FRAME_HEADER + length);
    writeFrameHeader(this.buf!, at, length, type, flags, streamId);
    if (payload === null || length === 0) return;
    const buf = this.buf!;
    // a few bytes (a small body, a PING) by a loop: copy()'s call costs more than they do
    if (length <= SHORT_COPY) for (let i = 0, o = at + FRAME_HEADER; i < length; i++) buf[o + i] = payload[start + i];
    else payload.copy(buf, at + FRAME_HEADER, start, end);
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    due.push(this);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flushAll);
    }
  }

  flush(): void {
    this.queued = false;
    this.flushes++;
    const socket = this.socket;
    const parts = this.parts;
    const last = this.buf !== null && this.used > 0 ? this.buf.subarray(0, this.used) : null;
    // the rest of the chunk stays for the next turn's frames (nothing written there yet)
    if (this.buf !== null) this.buf = this.buf.length - this.used >= 1024 ? this.buf.subarray(this.used) : null;
    this.used = 0;
    this.pending = 0;
    if (socket.destroyed) {
      this.parts = [];
      return;
    }
    if (parts.length === 0) {
      if (last !== null) socket.write(last);
      return;
    }
    this.parts = [];
    socket.cork();
    for (let i = 0; i < parts.length; i++) socket.write(parts[i]);
    if (last !== null) socket.write(last);
    socket.uncork();
  }
}
