// One upstream HTTP/2 connection on Switchyard's own codec pieces (frames.ts, hpack.ts, output.ts), the
// client side of what src/h2/codec/connection.ts is for clients: requests go up as HEADERS (+ DATA) on
// odd stream ids, responses come back as plain callbacks with flat field lists.
//
// Why not node:http2's client: per stream it builds a Duplex, header objects and nghttp2 callbacks; for
// gRPC unary calls through the proxy that was ~4× nginx's CPU per call, a quarter of it garbage
// collection (bench/RESULTS-grpc.md). A stream here is one object; the frames of every stream written in
// one event-loop turn go out in one socket write.
//
// Flow control: we announce a 256 KiB stream window and raise the connection's to 16 MiB, so a stream whose
// downstream reads slowly holds at most its own window (its WINDOW_UPDATEs wait while it is paused) and
// does not spend the window its siblings share. Our DATA honours the peer's windows and frame size;
// what does not fit waits in the stream and write() says so (false) until `drain`.
import type { Socket } from 'node:net';
import {
  DEFAULT_WINDOW, E_ENHANCE_YOUR_CALM, E_FLOW_CONTROL_ERROR, E_INTERNAL_ERROR, E_NO_ERROR, E_PROTOCOL_ERROR, E_REFUSED_STREAM, F_ACK, F_END_HEADERS, F_END_STREAM, F_PADDED, F_PRIORITY, FRAME_HEADER,
  MAX_WINDOW, PREFACE, S_ENABLE_PUSH, S_HEADER_TABLE_SIZE, S_INITIAL_WINDOW_SIZE, S_MAX_CONCURRENT_STREAMS, S_MAX_FRAME_SIZE, T_CONTINUATION, T_DATA,
  T_GOAWAY, T_HEADERS, T_PING, T_PUSH_PROMISE, T_RST_STREAM, T_SETTINGS, T_WINDOW_UPDATE, writeFrameHeader,
} from '../codec/frames.ts';
import { HpackDecoder, HpackEncoder } from '../codec/hpack.ts';
import { FrameOutput } from '../codec/output.ts';
import { responseFieldsValid } from '../field-rules.ts';

/** Our receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE) and the connection's. */
const STREAM_WINDOW = 256 * 1024;
const CONNECTION_WINDOW = 16 * 1024 * 1024;
/** Bytes gathered or queued on the socket above which write() asks the caller to wait. */
const HIGH_WATER = 256 * 1024;
/**
 * Bytes waiting on the socket above which the connection is cut (GOAWAY ENHANCE_YOUR_CALM): a backend that
 * sends PINGs or SETTINGS (each answered) and never reads would otherwise grow our buffers without end.
 * Request bodies stop at HIGH_WATER; only such answers get this far (as the downstream codec's SOCKET_MAX_QUEUED).
 */
const SOCKET_MAX_QUEUED = 16 * 1024 * 1024;
/** A response header block larger than this (compressed) ends the connection. */
const MAX_HEADER_BLOCK = 256 * 1024;
const LAST_CLIENT_STREAM = 0x7fff_ffff - 2;
export const CLOSED_CLEANLY = E_NO_ERROR;

/** What a stream tells its owner (the upstream-attempt core); each gets the stream it is about. */
export interface ClientStreamEvents {
  /** The response head (1xx skipped); `ended`: it carried END_STREAM (a trailers-only gRPC answer). */
  onResponse(stream: ClientStream, status: number, fields: string[], ended: boolean): void;
  /** A DATA payload (a view of the read buffer: kept by the callee as it is, never reused by us). */
  onData(stream: ClientStream, chunk: Buffer): void;
  /** The response ended: `trailers` when it closed with a trailer block. */
  onEnd(stream: ClientStream, trailers: string[] | undefined): void;
  /** The stream is gone: CLOSED_CLEANLY after a whole response, else the reset's code (or INTERNAL_ERROR when the connection died). */
  onClose(stream: ClientStream, code: number): void;
  /** What write() had to hold went out: more may be written. */
  onDrain(stream: ClientStream): void;
}

export class ClientStream {
  readonly id: number;
  private readonly session: ClientSession;
  readonly events: ClientStreamEvents;
  /** Peer's window for our DATA on this stream. */
  sendWindow: number;
  /** Body chunks write() could not send yet, and whether end() came after them. */
  private queue: Buffer[] = [];
  private queued = 0;
  private endQueued = false;
  /** Our END_STREAM went out / the response's came / RST or connection loss: closed. */
  writableEnded = false;
  private remoteEnded = false;
  closed = false;
  private responded = false;
  private paused = false;
  /** Bytes delivered whose WINDOW_UPDATE is owed (sent when it reaches half the window, unless paused). */
  private unacked = 0;
  /**
   * What the peer may still send on this stream: our window less what came and was not acknowledged. A
   * peer past it would make a paused stream hold whatever it sends; it gets FLOW_CONTROL_ERROR instead.
   */
  private recvWindow = STREAM_WINDOW;
  private wantDrain = false;
  /** Called once when the stream closes (the session's slot). */
  onClosed: (() => void) | null = null;

  constructor(id: number, session: ClientSession, events: ClientStreamEvents, sendWindow: number) {
    this.id = id;
    this.session = session;
    this.events = events;
    this.sendWindow = sendWindow;
  }

  /** Sends (or queues, returning false) one body chunk; `end`: the body's last, its frame carries END_STREAM. */
  write(chunk: Buffer, end = false): boolean {
    if (this.writableEnded || this.closed) return true;
    if (end && chunk.length === 0) {
      this.end();
      return true;
    }
    if (this.queued === 0) {
      const sent = this.session.sendData(this, chunk, 0, end);
      if (sent === chunk.length && end) {
        this.writableEnded = true;
        if (this.remoteEnded) this.finish(CLOSED_CLEANLY);
        return true;
      }
      if (sent === chunk.length && this.session.roomy()) return true;
      if (sent < chunk.length) {
        this.queue.push(sent === 0 ? chunk : chunk.subarray(sent));
        this.queued += chunk.length - sent;
      }
    } else {
      this.queue.push(chunk);
      this.queued += chunk.length;
    }
    if (end) this.endQueued = true;
    this.wantDrain = true;
    this.session.blocked(this);
    return false;
  }

  end(): void {
    if (this.writableEnded || this.closed) return;
    if (this.queued > 0) {
      this.endQueued = true;
      return;
    }
    this.writableEnded = true;
    this.session.sendEnd(this);
    if (this.remoteEnded) this.finish(CLOSED_CLEANLY);
  }

  /** Stops acknowledging what arrives (the peer stops at our window). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.unacked > 0 && !this.closed && !this.remoteEnded) {
      this.session.windowUpdate(this.id, this.unacked);
      this.recvWindow += this.unacked;
      this.unacked = 0;
    }
  }

  /** RST_STREAM with `code` (CANCEL: the client went away, a try timed out). */
  close(code: number): void {
    if (this.closed) return;
    this.session.sendRst(this.id, code);
    this.finish(code);
  }

  // ---- from the session

  /** Sends what waits in the queue as far as the windows allow; true when it is empty. */
  flushQueue(): boolean {
    while (this.queue.length > 0) {
      const chunk = this.queue[0];
      const sent = this.session.sendData(this, chunk, 0, false);
      this.queued -= sent;
      if (sent < chunk.length) {
        this.queue[0] = chunk.subarray(sent);
        return false;
      }
      this.queue.shift();
    }
    if (this.endQueued) {
      this.endQueued = false;
      this.end();
    }
    if (this.wantDrain && !this.closed) {
      this.wantDrain = false;
      this.events.onDrain(this);
    }
    // the drain may have brought more body at once (written, or queued again): then it still waits
    return this.queue.length === 0 && !this.wantDrain;
  }

  headersIn(fields: string[], endStream: boolean): void {
    if (!this.responded) {
      let status = 0;
      for (let i = 0; i < fields.length; i += 2) {
        if (fields[i] === ':status') {
          status = Number(fields[i + 1]);
          fields.splice(i, 2);
          break;
        }
      }
      if (status >= 100 && status < 200 && !endStream) return; // informational: the real head follows
      if (status < 200 || status > 999 || !responseFieldsValid(fields)) return this.protocolError();
      this.responded = true;
      this.events.onResponse(this, status, fields, endStream);
      if (endStream && !this.closed) this.remoteEnd(undefined);
      return;
    }
    // trailers: the stream's last frame
    if (!endStream || !responseFieldsValid(fields)) return this.protocolError();
    this.remoteEnd(fields);
  }

  dataIn(chunk: Buffer, flowLength: number, endStream: boolean): void {
    if (!this.responded) return this.protocolError();
    this.recvWindow -= flowLength;
    if (this.recvWindow < 0) return this.close(E_FLOW_CONTROL_ERROR); // RFC 9113 §6.9.1: past our window
    if (chunk.length > 0) this.events.onData(this, chunk);
    if (this.closed) return;
    if (endStream) return this.remoteEnd(undefined);
    this.unacked += flowLength;
    if (!this.paused && this.unacked >= STREAM_WINDOW / 2) {
      this.session.windowUpdate(this.id, this.unacked);
      this.recvWindow += this.unacked;
      this.unacked = 0;
    }
  }

  private remoteEnd(trailers: string[] | undefined): void {
    this.remoteEnded = true;
    this.events.onEnd(this, trailers);
    if (this.closed) return;
    // a whole response before our body ended (the backend answered early): the rest is not wanted
    if (!this.writableEnded) {
      this.queue = [];
      this.queued = 0;
      this.session.sendRst(this.id, E_NO_ERROR);
    }
    this.finish(CLOSED_CLEANLY);
  }

  private protocolError(): void {
    this.close(E_PROTOCOL_ERROR);
  }

  /** The peer's RST_STREAM, or the connection's end (code), or our own close. */
  finish(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.writableEnded = true;
    this.queue = [];
    this.queued = 0;
    this.session.streamClosed(this);
    const release = this.onClosed;
    this.onClosed = null;
    release?.();
    this.events.onClose(this, code);
  }
}

export interface ClientSessionEvents {
  /** The connection is gone (closed, failed) or going (GOAWAY): no new streams on it. */
  gone(session: ClientSession): void;
}

export class ClientSession {
  readonly socket: Socket;
  private readonly output: FrameOutput;
  private readonly decoder = new HpackDecoder();
  private readonly encoder = new HpackEncoder();
  private readonly events: ClientSessionEvents;
  private readonly streams = new Map<number, ClientStream>();
  /** Streams with body bytes waiting for window. */
  private readonly blockedStreams = new Set<ClientStream>();
  private nextId = 1;
  /** Connection send window (the peer's), our receive window's unacknowledged part. */
  private sendWindow = DEFAULT_WINDOW;
  private recvUnacked = 0;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = 16_384;
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS (100 until its SETTINGS say otherwise). */
  maxConcurrentStreams = 100;
  private pendingIn: Buffer | null = null;
  private blockStream = 0;
  private blockEndStream = false;
  private blockParts: Buffer[] | null = null;
  private blockSize = 0;
  /** GOAWAY received, the ids ran out, or the connection ended: no new streams. */
  private goingAway = false;
  destroyed = false;

  constructor(socket: Socket, events: ClientSessionEvents) {
    this.socket = socket;
    this.events = events;
    this.output = new FrameOutput(socket);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onSocketClose());
  }

  /** The connection is up: our preface, SETTINGS (no push, our stream window) and the connection window. */
  start(): void {
    const out = this.output;
    let at = out.reserve(PREFACE.length + FRAME_HEADER + 12 + FRAME_HEADER + 4);
    const chunk = out.chunk;
    PREFACE.copy(chunk, at);
    at += PREFACE.length;
    writeFrameHeader(chunk, at, 12, T_SETTINGS, 0, 0);
    chunk.writeUInt16BE(S_ENABLE_PUSH, at + 9);
    chunk.writeUInt32BE(0, at + 11);
    chunk.writeUInt16BE(S_INITIAL_WINDOW_SIZE, at + 15);
    chunk.writeUInt32BE(STREAM_WINDOW, at + 17);
    at += FRAME_HEADER + 12;
    writeFrameHeader(chunk, at, 4, T_WINDOW_UPDATE, 0, 0);
    chunk.writeUInt32BE(CONNECTION_WINDOW - DEFAULT_WINDOW, at + 9);
    out.flush();
  }

  get usable(): boolean {
    return !this.goingAway && !this.destroyed;
  }

  get activeStreams(): number {
    return this.streams.size;
  }

  /** Opens a stream: HEADERS with the flat fields (pseudo-headers first), END_STREAM when there is no body. */
  request(fields: readonly string[], endStream: boolean, events: ClientStreamEvents): ClientStream {
    if (!this.usable) throw new Error('session closed');
    const id = this.nextId;
    this.nextId += 2;
    if (this.nextId > LAST_CLIENT_STREAM) this.retire();
    const stream = new ClientStream(id, this, events, this.peerInitialWindow);
    this.streams.set(id, stream);
    this.writeHeaders(id, fields, endStream);
    if (endStream) stream.writableEnded = true;
    return stream;
  }

  /** No new streams; the connection ends once its streams have (idle timeout, reload, ids used up). */
  retire(): void {
    if (this.goingAway) return;
    this.goingAway = true;
    this.events.gone(this);
    if (this.streams.size === 0) this.shutdown();
  }

  /** GOAWAY(NO_ERROR) and the end of the socket once written. */
  private shutdown(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const at = this.output.reserve(FRAME_HEADER + 8);
    const chunk = this.output.chunk;
    writeFrameHeader(chunk, at, 8, T_GOAWAY, 0, 0);
    chunk.writeUInt32BE(0, at + 9);
    chunk.writeUInt32BE(E_NO_ERROR, at + 13);
    this.output.flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Ends the connection now; open streams close with INTERNAL_ERROR. */
  destroy(): void {
    this.socket.destroy();
    this.onSocketClose();
  }

  // ---- writing

  private writeHeaders(id: number, fields: readonly string[], endStream: boolean): void {
    let estimate = 16;
    for (let i = 0; i < fields.length; i++) estimate += fields[i].length + 6;
    const out = this.output;
    const at = out.reserve(FRAME_HEADER + estimate);
    const chunk = out.chunk;
    const end = this.encoder.encode(0, fields, chunk, at + FRAME_HEADER);
    if (end < 0) throw new Error('h2 client: header block estimate too small');
    const length = end - at - FRAME_HEADER;
    out.shrink(estimate - length);
    const flags = endStream ? F_END_STREAM : 0;
    if (length <= this.peerMaxFrame) {
      writeFrameHeader(chunk, at, length, T_HEADERS, flags | F_END_HEADERS, id);
      return;
    }
    const block = Buffer.from(chunk.subarray(at + FRAME_HEADER, end));
    out.shrink(FRAME_HEADER + length);
    for (let offset = 0; offset < block.length; offset += this.peerMaxFrame) {
      const stop = Math.min(block.length, offset + this.peerMaxFrame);
      out.frame(offset === 0 ? T_HEADERS : T_CONTINUATION, (offset === 0 ? flags : 0) | (stop === block.length ? F_END_HEADERS : 0), id, block, offset, stop);
    }
  }

  /** Sends as much of chunk[from..] as the windows allow, in frames of the peer's size; returns the bytes sent. */
  sendData(stream: ClientStream, chunk: Buffer, from: number, endStream: boolean): number {
    let at = from;
    while (at < chunk.length) {
      const room = Math.min(this.sendWindow, stream.sendWindow, this.peerMaxFrame);
      if (room <= 0) break;
      const stop = Math.min(chunk.length, at + room);
      this.output.frame(T_DATA, endStream && stop === chunk.length ? F_END_STREAM : 0, stream.id, chunk, at, stop);
      this.sendWindow -= stop - at;
      stream.sendWindow -= stop - at;
      at = stop;
    }
    return at - from;
  }

  sendEnd(stream: ClientStream): void {
    this.output.frame(T_DATA, F_END_STREAM, stream.id, null);
  }

  sendRst(id: number, code: number): void {
    if (this.destroyed) return;
    const at = this.output.reserve(FRAME_HEADER + 4);
    const chunk = this.output.chunk;
    writeFrameHeader(chunk, at, 4, T_RST_STREAM, 0, id);
    chunk.writeUInt32BE(code, at + FRAME_HEADER);
  }

  windowUpdate(id: number, increment: number): void {
    if (this.destroyed) return;
    const at = this.output.reserve(FRAME_HEADER + 4);
    const chunk = this.output.chunk;
    writeFrameHeader(chunk, at, 4, T_WINDOW_UPDATE, 0, id);
    chunk.writeUInt32BE(increment, at + FRAME_HEADER);
  }

  /** Whether the socket has room for more (write()'s answer when everything went out). */
  roomy(): boolean {
    return this.socket.writableLength < HIGH_WATER;
  }

  /**
   * A stream waits for window or for the socket: window comes with WINDOW_UPDATE or SETTINGS; the socket
   * is looked at after this turn's output went to it (FrameOutput flushes in an earlier immediate).
   */
  blocked(stream: ClientStream): void {
    this.blockedStreams.add(stream);
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    setImmediate(this.checkBlocked);
  }

  private checkScheduled = false;
  private drainHooked = false;
  private readonly checkBlocked = (): void => {
    this.checkScheduled = false;
    if (this.destroyed || this.blockedStreams.size === 0) return;
    if (this.socket.writableLength >= HIGH_WATER) {
      if (!this.drainHooked) {
        this.drainHooked = true;
        this.socket.once('drain', () => {
          this.drainHooked = false;
          this.checkBlocked();
        });
      }
      return;
    }
    this.unblock();
  };

  private unblock(): void {
    for (const stream of this.blockedStreams) {
      if (this.sendWindow <= 0) break;
      if (stream.closed || stream.flushQueue()) this.blockedStreams.delete(stream);
    }
  }

  streamClosed(stream: ClientStream): void {
    this.streams.delete(stream.id);
    this.blockedStreams.delete(stream);
    if (this.goingAway && this.streams.size === 0) this.shutdown();
  }

  // ---- reading

  private onData(data: Buffer): void {
    if (this.pendingIn !== null) {
      data = Buffer.concat([this.pendingIn, data]);
      this.pendingIn = null;
    }
    let at = 0;
    const total = data.length;
    while (total - at >= FRAME_HEADER && !this.destroyed) {
      const length = (data[at] << 16) | (data[at + 1] << 8) | data[at + 2];
      if (length > 16_384) return this.fail(E_PROTOCOL_ERROR);
      if (total - at < FRAME_HEADER + length) break;
      const type = data[at + 3];
      const flags = data[at + 4];
      const id = data.readUInt32BE(at + 5) & 0x7fff_ffff;
      const start = at + FRAME_HEADER;
      at = start + length;
      if (this.blockParts !== null && type !== T_CONTINUATION) return this.fail(E_PROTOCOL_ERROR);
      switch (type) {
        case T_DATA:
          if (id === 0) return this.fail(E_PROTOCOL_ERROR);
          this.onDataFrame(data, start, length, flags, id);
          break;
        case T_HEADERS:
          if (id === 0) return this.fail(E_PROTOCOL_ERROR);
          this.onHeadersFrame(data, start, length, flags, id);
          break;
        case T_CONTINUATION:
          if (this.blockParts === null || id !== this.blockStream) return this.fail(E_PROTOCOL_ERROR);
          this.blockParts.push(data.subarray(start, start + length));
          this.blockSize += length;
          if (this.blockSize > MAX_HEADER_BLOCK) return this.fail(E_PROTOCOL_ERROR);
          if ((flags & F_END_HEADERS) !== 0) {
            const block = Buffer.concat(this.blockParts);
            this.blockParts = null;
            this.headerBlock(this.blockStream, block, 0, block.length, this.blockEndStream);
          }
          break;
        case T_RST_STREAM:
          if (length !== 4 || id === 0) return this.fail(E_PROTOCOL_ERROR);
          this.streams.get(id)?.finish(data.readUInt32BE(start));
          break;
        case T_SETTINGS:
          if ((flags & F_ACK) === 0) this.onSettings(data, start, length);
          break;
        case T_PING:
          if ((flags & F_ACK) === 0 && length === 8) this.output.frame(T_PING, F_ACK, 0, data, start, start + 8);
          break;
        case T_GOAWAY:
          if (length >= 8) this.onGoaway(data.readUInt32BE(start) & 0x7fff_ffff);
          break;
        case T_WINDOW_UPDATE:
          if (length === 4) this.onWindowUpdate(id, data.readUInt32BE(start) & 0x7fff_ffff);
          break;
        case T_PUSH_PROMISE:
          // we announced SETTINGS_ENABLE_PUSH 0 (RFC 9113 §8.4: a connection error); skipping it would also
          // leave its header block undecoded and the HPACK table out of step with the backend's
          return this.fail(E_PROTOCOL_ERROR);
        default:
          // PRIORITY and unknown types are ignored
          break;
      }
    }
    // what this read made us answer (PING and SETTINGS ACKs) waits on a backend that may not be reading
    if (!this.destroyed && this.output.pending + this.socket.writableLength > SOCKET_MAX_QUEUED) return this.fail(E_ENHANCE_YOUR_CALM);
    if (at < total && !this.destroyed) this.pendingIn = data.subarray(at);
  }

  private onDataFrame(data: Buffer, start: number, length: number, flags: number, id: number): void {
    let payloadStart = start;
    let payloadEnd = start + length;
    if ((flags & F_PADDED) !== 0) {
      if (length < 1) return this.fail(E_PROTOCOL_ERROR);
      payloadStart++;
      payloadEnd -= data[start];
      if (payloadEnd < payloadStart) return this.fail(E_PROTOCOL_ERROR);
    }
    this.recvUnacked += length;
    // past the connection's window (what we announced and acknowledged): RFC 9113 §6.9.1
    if (this.recvUnacked > CONNECTION_WINDOW) return this.fail(E_FLOW_CONTROL_ERROR);
    if (this.recvUnacked >= CONNECTION_WINDOW / 2) {
      this.windowUpdate(0, this.recvUnacked);
      this.recvUnacked = 0;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) return;
    stream.dataIn(data.subarray(payloadStart, payloadEnd), length, (flags & F_END_STREAM) !== 0);
  }

  private onHeadersFrame(data: Buffer, start: number, length: number, flags: number, id: number): void {
    let blockStart = start;
    let blockEnd = start + length;
    if ((flags & F_PADDED) !== 0) {
      blockStart++;
      blockEnd -= data[start];
    }
    if ((flags & F_PRIORITY) !== 0) blockStart += 5;
    if (blockEnd < blockStart) return this.fail(E_PROTOCOL_ERROR);
    const endStream = (flags & F_END_STREAM) !== 0;
    if ((flags & F_END_HEADERS) === 0) {
      this.blockStream = id;
      this.blockEndStream = endStream;
      this.blockParts = [data.subarray(blockStart, blockEnd)];
      this.blockSize = blockEnd - blockStart;
      return;
    }
    this.headerBlock(id, data, blockStart, blockEnd, endStream);
  }

  private headerBlock(id: number, block: Buffer, start: number, end: number, endStream: boolean): void {
    const fields: string[] = [];
    try {
      // every block is decoded, also for streams gone: the HPACK table must stay in step
      this.decoder.decode(block, start, end, fields);
    } catch {
      return this.fail(E_PROTOCOL_ERROR);
    }
    this.streams.get(id)?.headersIn(fields, endStream);
  }

  private onSettings(data: Buffer, start: number, length: number): void {
    if (length % 6 !== 0) return this.fail(E_PROTOCOL_ERROR);
    for (let at = start; at < start + length; at += 6) {
      const id = data.readUInt16BE(at);
      const value = data.readUInt32BE(at + 2);
      if (id === S_HEADER_TABLE_SIZE) this.encoder.peerTableSize(value);
      else if (id === S_MAX_CONCURRENT_STREAMS) this.maxConcurrentStreams = value;
      else if (id === S_MAX_FRAME_SIZE) this.peerMaxFrame = Math.min(Math.max(value, 16_384), 16_777_215);
      else if (id === S_INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) return this.fail(E_PROTOCOL_ERROR);
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) stream.sendWindow += delta;
      }
    }
    this.output.frame(T_SETTINGS, F_ACK, 0, null);
    if (this.blockedStreams.size > 0) this.unblock();
  }

  private onWindowUpdate(id: number, increment: number): void {
    if (id === 0) {
      this.sendWindow += increment;
    } else {
      const stream = this.streams.get(id);
      if (stream === undefined) return;
      stream.sendWindow += increment;
    }
    if (this.blockedStreams.size > 0) this.unblock();
  }

  /** The peer stops: streams above its last id were not processed (resent elsewhere), the rest finish. */
  private onGoaway(lastId: number): void {
    this.retire();
    for (const stream of [...this.streams.values()]) if (stream.id > lastId) stream.finish(E_REFUSED_STREAM);
  }

  private fail(code: number): void {
    if (this.destroyed) return;
    const at = this.output.reserve(FRAME_HEADER + 8);
    const chunk = this.output.chunk;
    writeFrameHeader(chunk, at, 8, T_GOAWAY, 0, 0);
    chunk.writeUInt32BE(0, at + 9);
    chunk.writeUInt32BE(code, at + 13);
    this.output.flush();
    this.socket.end();
    this.socket.destroy();
    this.onSocketClose();
  }

  private onSocketClose(): void {
    const wasGone = this.goingAway;
    this.destroyed = true;
    this.goingAway = true;
    if (!wasGone) this.events.gone(this);
    for (const stream of [...this.streams.values()]) stream.finish(E_INTERNAL_ERROR);
    this.streams.clear();
  }
}
