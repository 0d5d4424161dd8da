// The gRPC benchmark origin: a hand-written h2c responder (raw `net`, no node:http2, no grpc-js) that
// answers every unary call with one fixed reply, so that it costs a few µs per call and bounds neither
// proxy under test. It never decodes request fields: a HEADERS frame opens a call, the stream's END_STREAM
// (on HEADERS or DATA) answers it with HEADERS (:status 200, content-type application/grpc), one DATA frame
// (a length-prefixed protobuf message) and HEADERS trailers (grpc-status 0, END_STREAM). Without decoding
// there is no HPACK dynamic table to keep in step; the response blocks use only literal, never-indexed
// fields. Receive windows are opened wide at the start and replenished; the connection send window (the
// peer's) is honoured: answers wait when it is spent.
//
// usage: node bench/grpc/origin.ts [--port 0] [--parent PID]  → prints "listening PORT"; on SIGUSR2 it
// prints "calls SEQ N" (the report's number, calls answered since start), which the harness compares with the client's count.
import { createServer, type Socket } from 'node:net';
import { exitWithParent } from '../common/processes.ts';

const FRAME_DATA = 0x0;
const FRAME_HEADERS = 0x1;
const FRAME_SETTINGS = 0x4;
const FRAME_PING = 0x6;
const FRAME_GOAWAY = 0x7;
const FRAME_WINDOW_UPDATE = 0x8;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const preface = 24;

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(stream, 5);
  payload.copy(out, 9);
  return out;
}

/** A literal field without indexing, with a literal name (RFC 7541 §6.2.2), no Huffman. */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name, 'latin1'), Buffer.from([value.length]), Buffer.from(value, 'latin1')]);
}

// :status 200 is static entry 8 (indexed: 0x88)
const headBlock = Buffer.concat([Buffer.from([0x88]), literal('content-type', 'application/grpc')]);
const trailerBlock = literal('grpc-status', '0');
// switchyard.bench.Echo/Unary's reply: Msg { text: "hello" } (field 1, length-delimited)
const message = Buffer.from([0x0a, 0x05, ...Buffer.from('hello')]);
const dataPayload = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
/** One call's answer with the stream id at offsets streamAt[i] (patched per call). */
const answer = Buffer.concat([frame(FRAME_HEADERS, FLAG_END_HEADERS, 0, headBlock), frame(FRAME_DATA, 0, 0, dataPayload), frame(FRAME_HEADERS, FLAG_END_HEADERS | FLAG_END_STREAM, 0, trailerBlock)]);
const streamAt = [5, 9 + headBlock.length + 5, 9 + headBlock.length + 9 + dataPayload.length + 5];

const settings = (() => {
  const payload = Buffer.alloc(12);
  payload.writeUInt16BE(0x3, 0); // MAX_CONCURRENT_STREAMS
  payload.writeUInt32BE(10_000, 2);
  payload.writeUInt16BE(0x4, 6); // INITIAL_WINDOW_SIZE
  payload.writeUInt32BE(1 << 24, 8);
  return frame(FRAME_SETTINGS, 0, 0, payload);
})();
const settingsAck = frame(FRAME_SETTINGS, FLAG_ACK, 0, Buffer.alloc(0));
const bigWindow = 1 << 30;
const connectionWindowUpdate = (() => {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(bigWindow, 0);
  return frame(FRAME_WINDOW_UPDATE, 0, 0, payload);
})();

let calls = 0;

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  socket.write(Buffer.concat([settings, connectionWindowUpdate]));
  let pending: Buffer | undefined;
  let sawPreface = false;
  /** Receive window left on the connection before a replenish. */
  let received = 0;
  /** The peer's connection window for our DATA (its SETTINGS change only stream windows). */
  let sendWindow = 65_535;
  const waiting: number[] = [];
  let out: Buffer[] = [];

  const answerCall = (stream: number): void => {
    if (sendWindow < dataPayload.length) {
      waiting.push(stream);
      return;
    }
    sendWindow -= dataPayload.length;
    const bytes = Buffer.from(answer);
    for (const at of streamAt) bytes.writeUInt32BE(stream, at);
    out.push(bytes);
    calls++;
  };

  socket.on('data', (chunk: Buffer) => {
    let data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let at = 0;
    if (!sawPreface) {
      if (data.length < preface) {
        pending = data;
        return;
      }
      sawPreface = true;
      at = preface;
    }
    while (data.length - at >= 9) {
      const length = data.readUIntBE(at, 3);
      if (data.length - at < 9 + length) break;
      const type = data[at + 3];
      const flags = data[at + 4];
      const stream = data.readUInt32BE(at + 5) & 0x7fffffff;
      const payload = at + 9;
      at = payload + length;
      switch (type) {
        case FRAME_DATA:
          received += length;
          if ((flags & FLAG_END_STREAM) !== 0) answerCall(stream);
          break;
        case FRAME_HEADERS:
          // a request with no body ends on its HEADERS; trailers (END_STREAM) of a request end it too
          if ((flags & FLAG_END_STREAM) !== 0) answerCall(stream);
          break;
        case FRAME_SETTINGS:
          if ((flags & FLAG_ACK) === 0) out.push(settingsAck);
          break;
        case FRAME_PING:
          if ((flags & FLAG_ACK) === 0) out.push(frame(FRAME_PING, FLAG_ACK, 0, data.subarray(payload, payload + 8)));
          break;
        case FRAME_WINDOW_UPDATE:
          if (stream === 0) {
            sendWindow += data.readUInt32BE(payload) & 0x7fffffff;
            while (waiting.length > 0 && sendWindow >= dataPayload.length) answerCall(waiting.shift()!);
          }
          break;
        case FRAME_GOAWAY:
          socket.end();
          return;
        default:
          // RST_STREAM, PRIORITY, CONTINUATION: nothing to do for fixed answers
          break;
      }
    }
    if (at < data.length) pending = Buffer.from(data.subarray(at));
    data = Buffer.alloc(0);
    if (received >= bigWindow / 2) {
      const payload = Buffer.alloc(4);
      payload.writeUInt32BE(received, 0);
      out.push(frame(FRAME_WINDOW_UPDATE, 0, 0, payload));
      received = 0;
    }
    if (out.length === 1) socket.write(out[0]);
    else if (out.length > 1) socket.write(Buffer.concat(out));
    out = [];
  });
  socket.on('error', () => socket.destroy());
}

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

const server = createServer({ noDelay: true }, serve);
server.listen({ port: Number(option('port', '0')), host: option('host', '127.0.0.1'), backlog: 4096 }, () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});

let reports = 0;
process.on('SIGUSR2', () => process.stdout.write(`calls ${++reports} ${calls}\n`));
exitWithParent(Number(option('parent', '0')));
