// One HTTP/2 connection of Switchyard's own codec (RFC 9113): reads frames off the socket, keeps the HPACK
// state and both directions' flow control, enforces the limits, and hands each valid request to the
// frontend as a CodecStream. Frames to the client are gathered per event-loop turn (output.ts).
//
// Why not node:http2: it allocates ~7 KB per stream across a Duplex, header objects and nghttp2 callbacks,
// and promotes ~1.2 KB of it to V8's old space even when the stream is answered at once; behind a proxy
// with hundreds of streams in flight that made GC a sixth of the worker's time and the mark-compacts its
// p99 (bench/RESULTS-h2.md). A stream here is one object, and a request's fields are strings the HPACK
// table already holds.
import type { Socket } from 'node:net';
import { HttpDate, type Clock, type TimerHandle } from '../../core/index.ts';
import { ResetCounter } from '../reset-guard.ts';
import {
  DEFAULT_WINDOW, E_COMPRESSION_ERROR, E_ENHANCE_YOUR_CALM, E_FLOW_CONTROL_ERROR, E_FRAME_SIZE_ERROR, E_NO_ERROR, E_PROTOCOL_ERROR, E_REFUSED_STREAM,
  E_STREAM_CLOSED, F_ACK, F_END_HEADERS, F_END_STREAM, F_PADDED, F_PRIORITY, FRAME_HEADER, MAX_WINDOW, OUR_MAX_FRAME, PREFACE, S_ENABLE_PUSH,
  S_HEADER_TABLE_SIZE, S_INITIAL_WINDOW_SIZE, S_MAX_CONCURRENT_STREAMS, S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE, T_CONTINUATION, T_DATA, T_GOAWAY,
  T_HEADERS, T_PING, T_PRIORITY, T_PUSH_PROMISE, T_RST_STREAM, T_SETTINGS, T_WINDOW_UPDATE, writeFrameHeader,
} from './frames.ts';
import { HpackDecoder, HpackEncoder, HpackError } from './hpack.ts';
import { FrameOutput } from './output.ts';
import { requestFields, type RequestFields } from './request-fields.ts';
import { CodecStream, type StreamConnection } from './stream.ts';

export interface CodecLimits {
  maxConcurrentStreams: number;
  maxHeaderListSize: number;
  maxResetsPerSecond: number;
  /** Receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE we announce). */
  streamWindow: number;
  /** Receive window of the connection (raised from 64 KiB by a WINDOW_UPDATE at the start). */
  connectionWindow: number;
}

export interface ConnectionEvents {
  /** A valid request: the stream is owned by the callee from here on (answer or reset it). */
  request(connection: H2Connection, stream: CodecStream, request: RequestFields): void;
  /** The client reset more streams in a second than allowed; the connection is being cut. */
  cutForResets(connection: H2Connection): void;
  /** The client's header blocks decoded to more than the budget of a second; the connection is being cut. */
  headerBudgetSpent(connection: H2Connection): void;
  closed(connection: H2Connection): void;
}

/** How long a connection lingers after its final GOAWAY, reading and discarding, before it is destroyed. */
const LINGER_MS = 500;
/** Bytes queued on the socket above which streams are asked to wait for drain. */
const SOCKET_HIGH_WATER = 256 * 1024;
/**
 * Bytes waiting on the socket above which a connection is cut: a client that sends PINGs or SETTINGS
 * (each answered) and never reads would otherwise grow our buffers without end. Streams stop at
 * SOCKET_HIGH_WATER; only such control-frame answers get this far.
 */
const SOCKET_MAX_QUEUED = 16 * 1024 * 1024;
/** A header block larger than this (compressed, HEADERS + CONTINUATION) ends the connection. */
const MAX_HEADER_BLOCK_FACTOR = 2;
/**
 * Decoded header bytes (as SETTINGS_MAX_HEADER_LIST_SIZE counts them) a connection may produce per second,
 * as a multiple of max_header_list_size, and at least HEADER_BUDGET_MIN: HPACK lets one byte stand for a
 * 4 KB table entry, so a client sending little can make us decode a lot. 64 MiB/s at the 64 KiB default,
 * over 100,000 ordinary requests a second on one connection. Past it: GOAWAY(ENHANCE_YOUR_CALM).
 */
const HEADER_BUDGET_FACTOR = 1024;
const HEADER_BUDGET_MIN = 16 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);
/**
 * How many closed streams a connection remembers (RFC 9113 §5.1): frames on a stream the client closed
 * (END_STREAM both ways, or its RST_STREAM) are answered with STREAM_CLOSED, frames on one we reset are
 * in flight and ignored, and HEADERS opening a lower id than one opened before is a connection error
 * (§5.1.1). Frames on streams forgotten since are ignored. ~4 KB per connection at most.
 */
const CLOSED_MEMORY = 128;
/** How a remembered stream closed. */
const CLOSED_BY_PEER = 1;
const RESET_BY_US = 2;

export class H2Connection implements StreamConnection {
  readonly socket: Socket;
  private readonly limits: CodecLimits;
  private readonly events: ConnectionEvents;
  private readonly clock: Clock;
  private readonly output: FrameOutput;
  private readonly decoder = new HpackDecoder();
  private readonly encoder = new HpackEncoder();
  private readonly resets: ResetCounter;
  private readonly headerBudget: ResetCounter;
  readonly streams = new Map<number, CodecStream>();
  /**
   * Recently closed stream ids (0: an empty slot; stream ids start at 1) and how each closed (CLOSED_BY_PEER
   * | RESET_BY_US): a ring of CLOSED_MEMORY, `closedNext` its oldest slot. A Map here cost a set, a delete
   * and an iterator per stream, and its table's rehashes ~100 bytes of garbage per stream; a scan of 128
   * ints is cheaper, and the lookups besides the one at each close are for frames on closed streams.
   */
  private readonly closedIds = new Int32Array(CLOSED_MEMORY);
  private readonly closedHow = new Uint8Array(CLOSED_MEMORY);
  private closedNext = 0;
  /**
   * The highest id forgotten from the closed ring: a lower id that is neither open nor remembered may have
   * been closed long ago; a higher one was never opened (every stream closed since is remembered).
   */
  private forgottenBelow = 0;
  /** Highest stream id the client opened. */
  private lastStreamId = 0;
  /** GOAWAY sent: streams above `goawayLastId` are not served. */
  private goawaySent = false;
  private goawayLastId = 0;
  /** The client sent GOAWAY: no new streams will come. */
  private peerGoaway = false;
  /** A connection error or cut: input is ignored until the socket closes. */
  private finished = false;
  private lingerTimer: TimerHandle | null = null;
  private prefaceAt = 0;
  private settingsSeen = false;
  private pendingIn: Buffer | null = null;
  // header block being assembled from HEADERS + CONTINUATION
  private blockStream = 0;
  private blockEndStream = false;
  /** The HEADERS frame of the block made its stream depend on itself (RFC 9113 §5.3.1). */
  private blockSelfDependent = false;
  private blockParts: Buffer[] | null = null;
  private blockSize = 0;
  private readonly maxBlockSize: number;
  // flow control
  sendWindow = DEFAULT_WINDOW;
  private recvWindow: number;
  private recvUnacked = 0;
  private peerInitialWindow = DEFAULT_WINDOW;
  peerMaxFrame = 16_384;
  readonly streamWindow: number;
  private blocked: CodecStream[] = [];
  private waitingDrain = false;
  // END_STREAM in place on the HEADERS frame just written
  private readonly lastHeaders: { id: number; chunk: Buffer; flagsAt: number; flushes: number } = { id: 0, chunk: EMPTY, flagsAt: -1, flushes: -1 };
  /** Response header fields added to every response (HSTS), given to each stream. */
  readonly responseExtra: Readonly<Record<string, string>> | undefined;
  readonly date: HttpDate;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly encrypted: boolean;
  /** Monotonic ms when the last stream closed (or the connection opened). */
  idleSince: number;
  /** A TLS connection's accept and handshake end, handed to its first stream only (the waterfall); then 0. */
  tAccepted = 0;
  tTls = 0;

  constructor(socket: Socket, encrypted: boolean, limits: CodecLimits, events: ConnectionEvents, clock: Clock, responseExtra: Readonly<Record<string, string>> | undefined) {
    this.socket = socket;
    this.encrypted = encrypted;
    this.limits = limits;
    this.events = events;
    this.clock = clock;
    this.responseExtra = responseExtra;
    this.date = new HttpDate(clock);
    this.output = new FrameOutput(socket);
    this.resets = new ResetCounter(limits.maxResetsPerSecond, clock);
    this.headerBudget = new ResetCounter(Math.max(HEADER_BUDGET_MIN, limits.maxHeaderListSize * HEADER_BUDGET_FACTOR), clock);
    this.streamWindow = limits.streamWindow;
    this.recvWindow = DEFAULT_WINDOW;
    this.maxBlockSize = Math.max(64 * 1024, limits.maxHeaderListSize * MAX_HEADER_BLOCK_FACTOR);
    const peer = socket.remoteAddress ?? '';
    this.peerAddress = peer.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer;
    this.peerPort = socket.remotePort ?? 0;
    this.idleSince = clock.monotonic();
  }

  /** Sends our SETTINGS and the connection window, then reads. */
  start(): void {
    const socket = this.socket;
    const settings: [number, number][] = [
      [S_MAX_CONCURRENT_STREAMS, this.limits.maxConcurrentStreams],
      [S_INITIAL_WINDOW_SIZE, this.limits.streamWindow],
      [S_MAX_HEADER_LIST_SIZE, this.limits.maxHeaderListSize],
      [S_ENABLE_PUSH, 0],
    ];
    const payload = Buffer.allocUnsafe(settings.length * 6);
    settings.forEach(([id, value], i) => {
      payload.writeUInt16BE(id, i * 6);
      payload.writeUInt32BE(value, i * 6 + 2);
    });
    this.output.frame(T_SETTINGS, 0, 0, payload);
    const raise = this.limits.connectionWindow - DEFAULT_WINDOW;
    if (raise > 0) {
      this.writeWindowUpdate(0, raise);
      this.recvWindow += raise;
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onClose());
    // listeners open sockets half-open for HTTP/1.1; a client's FIN ends an HTTP/2 connection
    socket.on('end', () => this.finish(null));
    socket.resume();
  }

  // ---- input

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    let buf = chunk;
    if (this.pendingIn !== null) {
      buf = Buffer.concat([this.pendingIn, chunk]);
      this.pendingIn = null;
    }
    let i = 0;
    if (this.prefaceAt < PREFACE.length) {
      while (this.prefaceAt < PREFACE.length && i < buf.length) {
        if (buf[i++] !== PREFACE[this.prefaceAt++]) return this.connectionError(E_PROTOCOL_ERROR);
      }
    }
    const n = buf.length;
    while (n - i >= FRAME_HEADER) {
      const length = (buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2];
      if (length > OUR_MAX_FRAME) return this.connectionError(E_FRAME_SIZE_ERROR);
      if (n - i - FRAME_HEADER < length) break;
      const type = buf[i + 3];
      const flags = buf[i + 4];
      const id = buf.readUInt32BE(i + 5) & 0x7fff_ffff;
      const start = i + FRAME_HEADER;
      i = start + length;
      this.onFrame(type, flags, id, buf, start, i);
      if (this.finished) return;
    }
    if (i < n) this.pendingIn = buf.subarray(i);
    if (this.output.pending + this.socket.writableLength > SOCKET_MAX_QUEUED) this.destroy();
  }

  private onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (!this.settingsSeen) {
      // the client's preface ends with a SETTINGS frame (RFC 9113 §3.4)
      if (type !== T_SETTINGS || (flags & F_ACK) !== 0) return this.connectionError(E_PROTOCOL_ERROR);
      this.settingsSeen = true;
    }
    if (this.blockStream !== 0 && type !== T_CONTINUATION) return this.connectionError(E_PROTOCOL_ERROR);
    const length = end - start;
    switch (type) {
      case T_DATA:
        return this.onDataFrame(flags, id, buf, start, end);
      case T_HEADERS:
        return this.onHeaders(flags, id, buf, start, end);
      case T_PRIORITY:
        if (id === 0) return this.connectionError(E_PROTOCOL_ERROR);
        if (length !== 5) return this.streamError(id, E_FRAME_SIZE_ERROR);
        // a stream cannot depend on itself (RFC 9113 §5.3.1); priorities are otherwise not used
        if ((buf.readUInt32BE(start) & 0x7fff_ffff) === id) return this.streamError(id, E_PROTOCOL_ERROR);
        return;
      case T_RST_STREAM:
        return this.onRstStream(id, length);
      case T_SETTINGS:
        return this.onSettings(flags, id, buf, start, end);
      case T_PUSH_PROMISE:
        return this.connectionError(E_PROTOCOL_ERROR);
      case T_PING:
        if (id !== 0) return this.connectionError(E_PROTOCOL_ERROR);
        if (length !== 8) return this.connectionError(E_FRAME_SIZE_ERROR);
        if ((flags & F_ACK) === 0) this.output.frame(T_PING, F_ACK, 0, buf, start, end);
        return;
      case T_GOAWAY:
        if (id !== 0) return this.connectionError(E_PROTOCOL_ERROR);
        if (length < 8) return this.connectionError(E_FRAME_SIZE_ERROR);
        this.peerGoaway = true;
        if (this.streams.size === 0) this.finish(null);
        return;
      case T_WINDOW_UPDATE:
        return this.onWindowUpdate(id, buf, start, length);
      case T_CONTINUATION:
        return this.onContinuation(flags, id, buf, start, end);
      default:
      // unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  private onDataFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) return this.connectionError(E_PROTOCOL_ERROR);
    const frameLength = end - start;
    // the connection window counts every DATA frame, whatever becomes of its stream
    if (frameLength > this.recvWindow) return this.connectionError(E_FLOW_CONTROL_ERROR);
    this.recvWindow -= frameLength;
    this.recvUnacked += frameLength;
    if (this.recvUnacked >= this.limits.connectionWindow / 2) {
      this.writeWindowUpdate(0, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
    if ((flags & F_PADDED) !== 0) {
      if (frameLength === 0) return this.connectionError(E_FRAME_SIZE_ERROR);
      const pad = buf[start++];
      if (pad > end - start) return this.connectionError(E_PROTOCOL_ERROR);
      end -= pad;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (id > this.lastStreamId) return this.connectionError(E_PROTOCOL_ERROR);
      // closed by the client: STREAM_CLOSED; reset by us (or long gone): in flight, dropped
      if (this.closedAs(id) === CLOSED_BY_PEER) this.writeRst(id, E_STREAM_CLOSED);
      return;
    }
    if (stream.remoteClosed) return stream.reset(E_STREAM_CLOSED);
    stream.receiveData(buf, start, end, (flags & F_END_STREAM) !== 0, frameLength);
  }

  private onHeaders(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) return this.connectionError(E_PROTOCOL_ERROR);
    if ((flags & F_PADDED) !== 0) {
      if (end - start < 1) return this.connectionError(E_FRAME_SIZE_ERROR);
      const pad = buf[start++];
      if (pad > end - start) return this.connectionError(E_PROTOCOL_ERROR);
      end -= pad;
    }
    let selfDependent = false;
    if ((flags & F_PRIORITY) !== 0) {
      if (end - start < 5) return this.connectionError(E_FRAME_SIZE_ERROR);
      // priority is not used (RFC 9113 §5.3.2: deprecated signalling), but must not be on itself
      selfDependent = (buf.readUInt32BE(start) & 0x7fff_ffff) === id;
      start += 5;
    }
    const endStream = (flags & F_END_STREAM) !== 0;
    if ((flags & F_END_HEADERS) !== 0) return this.onHeaderBlock(id, endStream, selfDependent, buf, start, end);
    this.blockStream = id;
    this.blockEndStream = endStream;
    this.blockSelfDependent = selfDependent;
    this.blockParts = [buf.subarray(start, end)];
    this.blockSize = end - start;
  }

  private onContinuation(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (this.blockStream === 0 || id !== this.blockStream) return this.connectionError(E_PROTOCOL_ERROR);
    this.blockSize += end - start;
    // CONTINUATION floods (CVE-2024-27316): a block that never ends must not grow without bound
    if (this.blockSize > this.maxBlockSize) return this.connectionError(E_ENHANCE_YOUR_CALM);
    this.blockParts!.push(buf.subarray(start, end));
    if ((flags & F_END_HEADERS) === 0) return;
    const block = Buffer.concat(this.blockParts!);
    this.blockParts = null;
    this.blockStream = 0;
    this.onHeaderBlock(id, this.blockEndStream, this.blockSelfDependent, block, 0, block.length);
  }

  private onHeaderBlock(id: number, endStream: boolean, selfDependent: boolean, block: Buffer, start: number, end: number): void {
    // decoded whatever becomes of the stream: the HPACK table must follow every block. Fields past
    // max_header_list_size are counted, not collected (the list is refused with 431); past this second's
    // budget decoding stops, and the connection ends once the stream is answered.
    const list: string[] = [];
    const maxList = this.limits.maxHeaderListSize;
    const allowance = this.headerBudget.left();
    let listSize: number;
    try {
      listSize = this.decoder.decode(block, start, end, list, maxList, allowance);
    } catch (err) {
      if (err instanceof HpackError) return this.connectionError(E_COMPRESSION_ERROR);
      throw err;
    }
    // the window left() rolled to a moment ago
    this.headerBudget.spend(listSize);
    // judged against what decode was allowed (a window turning over meanwhile must not let a block whose
    // decoding stopped half-way, leaving the table out of step, pass)
    const overBudget = listSize > allowance;
    if (overBudget) this.events.headerBudgetSpent(this);
    const existing = this.streams.get(id);
    if (overBudget && (existing !== undefined || id <= this.lastStreamId || listSize <= maxList)) return this.connectionError(E_ENHANCE_YOUR_CALM);
    if (existing !== undefined) {
      // trailers: they end the request, and carry no pseudo-header (RFC 9113 §8.1)
      if (existing.remoteClosed) return existing.reset(E_STREAM_CLOSED);
      if (!endStream || selfDependent) return existing.reset(E_PROTOCOL_ERROR);
      for (let i = 0; i < list.length; i += 2) if (list[i].charCodeAt(0) === 58) return existing.reset(E_PROTOCOL_ERROR);
      return existing.receiveEnd();
    }
    if (id % 2 === 0) return this.connectionError(E_PROTOCOL_ERROR);
    if (id <= this.lastStreamId) {
      // a closed stream (§5.1): trailers the client sent after closing it are STREAM_CLOSED, frames in
      // flight to a stream we reset are dropped, and a new stream must have a higher id than every one
      // opened before (§5.1.1)
      const closed = this.closedAs(id);
      if (closed === CLOSED_BY_PEER) return this.writeRst(id, E_STREAM_CLOSED);
      if (closed === RESET_BY_US || id <= this.forgottenBelow) return;
      return this.connectionError(E_PROTOCOL_ERROR);
    }
    this.lastStreamId = id;
    if (this.goawaySent && id > this.goawayLastId) return;
    if (selfDependent) return this.writeRst(id, E_PROTOCOL_ERROR);
    if (this.streams.size >= this.limits.maxConcurrentStreams) return this.writeRst(id, E_REFUSED_STREAM);
    if (listSize > maxList) {
      // the list was not collected past the limit: answered without looking at it
      const refused = new CodecStream(id, this, this.peerInitialWindow, endStream, false, -1, this.responseExtra);
      this.streams.set(id, refused);
      refused.answer(431, 'text/plain; charset=utf-8', 'request header fields too large\n');
      if (overBudget) this.connectionError(E_ENHANCE_YOUR_CALM);
      return;
    }
    const request = requestFields(list);
    if (request === null) return this.writeRst(id, E_PROTOCOL_ERROR);
    if (endStream && request.contentLength > 0) return this.writeRst(id, E_PROTOCOL_ERROR);
    const stream = new CodecStream(id, this, this.peerInitialWindow, endStream, request.grpc, endStream ? -1 : request.contentLength, this.responseExtra);
    this.streams.set(id, stream);
    if (request.method === 'CONNECT') return stream.answer(405, 'text/plain; charset=utf-8', 'CONNECT is not served on this listener\n');
    if (request.expectContinue && !endStream) this.writeHeaders(id, 100, [], false);
    this.events.request(this, stream, request);
  }

  private onRstStream(id: number, length: number): void {
    if (id === 0) return this.connectionError(E_PROTOCOL_ERROR);
    if (length !== 4) return this.connectionError(E_FRAME_SIZE_ERROR);
    if (id > this.lastStreamId) return this.connectionError(E_PROTOCOL_ERROR);
    this.streams.get(id)?.remoteReset();
    // rapid reset (CVE-2023-44487): streams the client opens and cancels cost us work and it nothing.
    // Every reset counts, also of a stream answered already: whether the answer beat the reset is a race
    // the client can win or lose at will.
    if (this.resets.hit() && !this.finished) {
      this.events.cutForResets(this);
      this.finish(E_ENHANCE_YOUR_CALM);
    }
  }

  private onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) return this.connectionError(E_PROTOCOL_ERROR);
    if ((flags & F_ACK) !== 0) {
      if (end !== start) return this.connectionError(E_FRAME_SIZE_ERROR);
      return;
    }
    if ((end - start) % 6 !== 0) return this.connectionError(E_FRAME_SIZE_ERROR);
    for (let i = start; i < end; i += 6) {
      const key = buf.readUInt16BE(i);
      const value = buf.readUInt32BE(i + 2);
      if (key === S_HEADER_TABLE_SIZE) this.encoder.peerTableSize(value);
      else if (key === S_ENABLE_PUSH) {
        if (value > 1) return this.connectionError(E_PROTOCOL_ERROR);
      } else if (key === S_INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) return this.connectionError(E_FLOW_CONTROL_ERROR);
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        // a change that takes a stream's window past 2^31-1 is a connection error (§6.9.2)
        for (const stream of this.streams.values()) if (!stream.initialWindowChanged(delta)) return this.connectionError(E_FLOW_CONTROL_ERROR);
      } else if (key === S_MAX_FRAME_SIZE) {
        if (value < 16_384 || value > 16_777_215) return this.connectionError(E_PROTOCOL_ERROR);
        this.peerMaxFrame = value;
      }
    }
    this.output.frame(T_SETTINGS, F_ACK, 0, null);
  }

  private onWindowUpdate(id: number, buf: Buffer, start: number, length: number): void {
    if (length !== 4) return this.connectionError(E_FRAME_SIZE_ERROR);
    const increment = buf.readUInt32BE(start) & 0x7fff_ffff;
    if (id === 0) {
      if (increment === 0) return this.connectionError(E_PROTOCOL_ERROR);
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) return this.connectionError(E_FLOW_CONTROL_ERROR);
      return this.unblock();
    }
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (id > this.lastStreamId) return this.connectionError(E_PROTOCOL_ERROR);
      // an increment of 0 is an error on any stream (§6.9); otherwise late updates are normal
      if (increment === 0) this.writeRst(id, E_PROTOCOL_ERROR);
      return;
    }
    if (increment === 0) return stream.reset(E_PROTOCOL_ERROR);
    stream.windowUpdate(increment);
  }

  /** The connection window opened: streams waiting for it send, in the order they blocked. */
  private unblock(): void {
    const list = this.blocked;
    this.blocked = [];
    for (let i = 0; i < list.length; i++) {
      list[i].blocked = false;
      if (!list[i].closed) list[i].pump();
    }
  }

  // ---- StreamConnection

  block(stream: CodecStream): void {
    if (stream.blocked) return;
    stream.blocked = true;
    this.blocked.push(stream);
  }

  congested(_stream: CodecStream): boolean {
    if (this.output.pending + this.socket.writableLength <= SOCKET_HIGH_WATER) return false;
    if (!this.waitingDrain) {
      this.waitingDrain = true;
      this.socket.once('drain', () => this.onDrain());
    }
    return true;
  }

  private onDrain(): void {
    this.waitingDrain = false;
    for (const stream of this.streams.values()) if (stream.needDrain) stream.pump();
  }

  streamClosed(stream: CodecStream): void {
    this.streams.delete(stream.id);
    if (this.closedAt(stream.id) < 0) this.rememberClosed(stream.id, CLOSED_BY_PEER);
    if (this.streams.size === 0) {
      this.idleSince = this.clock.monotonic();
      if ((this.goawaySent || this.peerGoaway) && !this.finished) this.finish(null);
    }
  }

  writeHeaders(id: number, status: number, fields: readonly string[], endStream: boolean): void {
    let estimate = 16;
    for (let i = 0; i < fields.length; i++) estimate += fields[i].length + 6;
    const out = this.output;
    const at = out.reserve(FRAME_HEADER + estimate);
    const chunk = out.chunk;
    const end = this.encoder.encode(status, fields, chunk, at + FRAME_HEADER);
    if (end < 0) throw new Error('h2 codec: header block estimate too small');
    const length = end - at - FRAME_HEADER;
    out.shrink(estimate - length);
    const flags = endStream ? F_END_STREAM : 0;
    if (length <= this.peerMaxFrame) {
      writeFrameHeader(chunk, at, length, T_HEADERS, flags | F_END_HEADERS, id);
      const last = this.lastHeaders;
      last.id = id;
      last.chunk = chunk;
      last.flagsAt = at + 4;
      last.flushes = out.flushes;
      return;
    }
    // a block over the client's frame size: HEADERS then CONTINUATION frames
    const block = Buffer.from(chunk.subarray(at + FRAME_HEADER, end));
    out.shrink(FRAME_HEADER + length);
    this.lastHeaders.id = 0;
    for (let offset = 0; offset < block.length; offset += this.peerMaxFrame) {
      const stop = Math.min(block.length, offset + this.peerMaxFrame);
      const final = stop === block.length;
      out.frame(offset === 0 ? T_HEADERS : T_CONTINUATION, (offset === 0 ? flags : 0) | (final ? F_END_HEADERS : 0), id, block, offset, stop);
    }
  }

  endOnHeaders(id: number): boolean {
    const last = this.lastHeaders;
    if (last.id !== id || last.flushes !== this.output.flushes) return false;
    last.chunk[last.flagsAt] |= F_END_STREAM;
    last.id = 0;
    return true;
  }

  writeData(id: number, chunk: Buffer, start: number, end: number, endStream: boolean): void {
    if (this.lastHeaders.id === id) this.lastHeaders.id = 0;
    this.output.frame(T_DATA, endStream ? F_END_STREAM : 0, id, chunk, start, end);
  }

  /** Keeps how stream `id` closed (a remembered one: its new way), forgetting the oldest beyond CLOSED_MEMORY. */
  private rememberClosed(id: number, how: number): void {
    const at = this.closedAt(id);
    if (at >= 0) {
      this.closedHow[at] = how;
      return;
    }
    const slot = this.closedNext;
    const oldest = this.closedIds[slot];
    if (oldest > this.forgottenBelow) this.forgottenBelow = oldest;
    this.closedIds[slot] = id;
    this.closedHow[slot] = how;
    this.closedNext = slot + 1 === CLOSED_MEMORY ? 0 : slot + 1;
  }

  /** The ring slot of closed stream `id`, -1 when it is not remembered. */
  private closedAt(id: number): number {
    const ids = this.closedIds;
    for (let i = 0; i < CLOSED_MEMORY; i++) if (ids[i] === id) return i;
    return -1;
  }

  /** How stream `id` closed (CLOSED_BY_PEER, RESET_BY_US), 0 when it is not remembered. */
  private closedAs(id: number): number {
    const at = this.closedAt(id);
    return at < 0 ? 0 : this.closedHow[at];
  }

  writeRst(id: number, code: number): void {
    if (this.lastHeaders.id === id) this.lastHeaders.id = 0;
    // frames the client sent before it read this reset are dropped, not answered (§5.1 "closed")
    if (code !== E_STREAM_CLOSED) this.rememberClosed(id, RESET_BY_US);
    const at = this.output.reserve(FRAME_HEADER + 4);
    const chunk = this.output.chunk;
    writeFrameHeader(chunk, at, 4, T_RST_STREAM, 0, id);
    chunk.writeUInt32BE(code, at + FRAME_HEADER);
  }

  writeWindowUpdate(id: number, increment: number): void {
    const at = this.output.reserve(FRAME_HEADER + 4);
    const chunk = this.output.chunk;
    writeFrameHeader(chunk, at, 4, T_WINDOW_UPDATE, 0, id);
    chunk.writeUInt32BE(increment, at + FRAME_HEADER);
  }

  private writeGoaway(code: number): void {
    const at = this.output.reserve(FRAME_HEADER + 8);
    const chunk = this.output.chunk;
    writeFrameHeader(chunk, at, 8, T_GOAWAY, 0, 0);
    chunk.writeUInt32BE(this.lastStreamId, at + FRAME_HEADER);
    chunk.writeUInt32BE(code, at + FRAME_HEADER + 4);
    this.goawaySent = true;
    this.goawayLastId = this.lastStreamId;
  }

  private streamError(id: number, code: number): void {
    const stream = this.streams.get(id);
    if (stream !== undefined) stream.reset(code);
    else this.writeRst(id, code);
  }

  // ---- ending

  /** Graceful close (drain, idle): GOAWAY(NO_ERROR); streams in flight finish, then the connection ends. */
  shutdown(): void {
    if (this.finished || this.goawaySent) return;
    this.writeGoaway(E_NO_ERROR);
    if (this.streams.size === 0) this.finish(null);
  }

  private connectionError(code: number): void {
    this.finish(code);
  }

  /**
   * Ends the connection: with `code`, a GOAWAY first (unless one with NO_ERROR was enough already) and
   * every open stream is dropped. The socket is ended after the output is written, and destroyed after a
   * linger: closing at once with the client's frames still arriving would make the kernel send a TCP
   * reset that can discard the GOAWAY before the client reads it.
   */
  private finish(code: number | null): void {
    if (this.finished) return;
    this.finished = true;
    if (code !== null) this.writeGoaway(code);
    else if (!this.goawaySent) this.writeGoaway(E_NO_ERROR);
    for (const stream of [...this.streams.values()]) stream.remoteReset();
    this.output.flush();
    this.socket.end();
    this.lingerTimer = this.clock.setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.lingerTimer.unref?.();
  }

  /** Ends the connection now (stop, drain deadline). */
  destroy(): void {
    this.finished = true;
    this.socket.destroy();
  }

  get isFinished(): boolean {
    return this.finished;
  }

  private onClose(): void {
    this.finished = true;
    if (this.lingerTimer !== null) this.clock.clearTimeout(this.lingerTimer);
    for (const stream of [...this.streams.values()]) stream.remoteReset();
    this.events.closed(this);
  }
}
