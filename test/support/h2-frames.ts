// A raw HTTP/2 frame writer and reader for bad-input and conformance tests: writes frames byte by byte
// over a TCP (or TLS) socket (no HPACK library: header blocks use literal fields without indexing or
// Huffman, RFC 7541 §6.2.2, plus hand-made bytes where a test needs them) and reads frames back, so a
// test can send what no well-behaved client would and see the server's GOAWAY or RST_STREAM.
import net from 'node:net';
import tls from 'node:tls';

export const frameType = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const flag = { END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 } as const;
/** RFC 9113 §7 error codes. */
export const errorCode = {
  NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, FLOW_CONTROL_ERROR: 0x3, SETTINGS_TIMEOUT: 0x4, STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6, REFUSED_STREAM: 0x7, CANCEL: 0x8, COMPRESSION_ERROR: 0x9, ENHANCE_YOUR_CALM: 0xb,
} as const;
export const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an `prefixBits`-bit prefix; `flags` are the first byte's high bits (RFC 7541 §5.1). */
export function hpackInt(value: number, prefixBits: number, flags = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([flags | value]);
  const out = [flags | max];
  value -= max;
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

/** A string literal without Huffman coding. */
function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([hpackInt(bytes.length, 7), bytes]);
}

/** Literal field without indexing, new name (RFC 7541 §6.2.2). */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

/** Literal field with incremental indexing, new name (RFC 7541 §6.2.1): the field enters the dynamic table. */
export function indexedLiteral(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
}

/** Indexed field (RFC 7541 §6.1): index 62 is the newest dynamic-table entry. */
export function indexed(index: number): Buffer {
  return hpackInt(index, 7, 0x80);
}

/** Settings payload from [id, value] pairs. */
export function settingsPayload(...pairs: [number, number][]): Buffer {
  const out = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, value], i) => {
    out.writeUInt16BE(id, i * 6);
    out.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return out;
}

/** A 4-byte big-endian payload (WINDOW_UPDATE increment, RST_STREAM code). */
export function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

/** HPACK block of literal fields (no dynamic table use). */
export function headerBlock(fields: [string, string][]): Buffer {
  return Buffer.concat(fields.map(([name, value]) => literal(name, value)));
}

export function getHeaders(streamId: number, path: string, authority: string, endStream = true): Buffer {
  const block = headerBlock([[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', authority]]);
  return frame(frameType.HEADERS, flag.END_HEADERS | (endStream ? flag.END_STREAM : 0), streamId, block);
}

export function rstStream(streamId: number, code = 8 /* CANCEL */): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(frameType.RST_STREAM, 0, streamId, payload);
}

/** Payload of a PRIORITY frame, or the priority fields of a HEADERS frame with the PRIORITY flag. */
export function priorityFields(dependency: number, weight = 15, exclusive = false): Buffer {
  const out = Buffer.alloc(5);
  out.writeUInt32BE(((exclusive ? 0x8000_0000 : 0) | dependency) >>> 0);
  out[4] = weight;
  return out;
}

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export interface RawConnection {
  socket: net.Socket;
  frames: Frame[];
  /** Resolves with the first GOAWAY's error code, or undefined if the socket closed without one. */
  goaway: Promise<number | undefined>;
  closed: Promise<void>;
}

/** Waits until `check` holds for the frames received so far, the connection closes, or `ms` pass. */
export async function until(raw: RawConnection, check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && !raw.socket.destroyed && Date.now() < deadline) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        raw.socket.off('data', done).off('close', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, deadline - Date.now()));
      raw.socket.once('data', done).once('close', done);
    });
  }
}

/**
 * Connects (TCP, or TLS with ALPN h2 when `secure`) and sends `opening` (by default the preface and an
 * empty SETTINGS); collects every frame the server sends, and ACKs its SETTINGS.
 */
export function connectRaw(port: number, secure = false, opening: Buffer = Buffer.concat([preface, frame(frameType.SETTINGS, 0, 0)])): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket: net.Socket = secure ? tls.connect({ port, host: '127.0.0.1', ALPNProtocols: ['h2'], rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
    const frames: Frame[] = [];
    let buffered = Buffer.alloc(0);
    let goawayResolve!: (code: number | undefined) => void;
    const goaway = new Promise<number | undefined>((r) => (goawayResolve = r));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('close', () => goawayResolve(undefined));
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const f: Frame = { type: buffered[3], flags: buffered[4], streamId: buffered.readUInt32BE(5) & 0x7fffffff, payload: buffered.subarray(9, 9 + length) };
        buffered = buffered.subarray(9 + length);
        frames.push(f);
        if (f.type === frameType.SETTINGS && !(f.flags & flag.ACK)) socket.write(frame(frameType.SETTINGS, flag.ACK, 0));
        if (f.type === frameType.GOAWAY) goawayResolve(f.payload.readUInt32BE(4));
      }
    });
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.write(opening);
      resolve({ socket, frames, goaway, closed });
    });
    socket.once('error', reject);
  });
}

/**
 * The server side of a raw connection, for backends written frame by frame: sends an empty SETTINGS, then
 * skips the client's preface and hands every frame the client sends to `onFrame` (after ACKing a SETTINGS).
 */
export function serveRaw(socket: net.Socket, onFrame: (f: Frame) => void): void {
  socket.on('error', () => undefined);
  socket.write(frame(frameType.SETTINGS, 0, 0));
  let pending = Buffer.alloc(0);
  let prefaceSeen = false;
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    if (!prefaceSeen) {
      if (pending.length < preface.length) return;
      pending = pending.subarray(preface.length);
      prefaceSeen = true;
    }
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) return;
      const f: Frame = { type: pending[3]!, flags: pending[4]!, streamId: pending.readUInt32BE(5) & 0x7fffffff, payload: pending.subarray(9, 9 + length) };
      pending = pending.subarray(9 + length);
      if (f.type === frameType.SETTINGS && (f.flags & flag.ACK) === 0) socket.write(frame(frameType.SETTINGS, flag.ACK, 0));
      onFrame(f);
    }
  });
}
