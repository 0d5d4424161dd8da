// A raw HTTP/2 client for bad-input tests: writes frames byte by byte over a TCP socket (no HPACK
// library: header blocks use literal fields without indexing or Huffman, RFC 7541 §6.2.2) and reads
// frames back, so a test can send what no well-behaved client would and see the server's GOAWAY.
import net from 'node:net';
import tls from 'node:tls';

export const frameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
export const flag = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;
export const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  if (n.length > 126 || v.length > 126) throw new Error('raw client: short header fields only');
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
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

/**
 * Connects (TCP, or TLS with ALPN h2 when `secure`) and sends the preface and an empty SETTINGS;
 * collects every frame the server sends.
 */
export function connectRaw(port: number, secure = false): Promise<RawConnection> {
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
      socket.write(Buffer.concat([preface, frame(frameType.SETTINGS, 0, 0)]));
      resolve({ socket, frames, goaway, closed });
    });
    socket.once('error', reject);
  });
}
