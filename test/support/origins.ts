// Origins for end-to-end tests, all on 127.0.0.1 port 0. Each returns its port and a close() that ends
// every socket it opened, so a failing test leaves nothing behind.
import net from 'node:net';
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { anchorPort } from './ports.ts';

export interface Origin {
  port: number;
  /** "127.0.0.1:port", the form pool backends use. */
  address: string;
  /** Connections accepted so far (keep-alive reuse shows as few connections for many requests). */
  connections(): number;
  close(): Promise<void>;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function trackSockets(server: net.Server): { sockets: Set<net.Socket>; count: () => number } {
  const sockets = new Set<net.Socket>();
  let count = 0;
  server.on('connection', (socket) => {
    count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return { sockets, count: () => count };
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
}

export interface RecordingOrigin extends Origin {
  /** Every byte received, all connections concatenated in arrival order (latin1). */
  received(): string;
  /** Connections open right now (held by the proxy). */
  open(): number;
}

/**
 * Logs the raw bytes it receives and answers each request head with `200 ok` (bodies framed by
 * Content-Length or chunked are skipped). Proves what did (or did not) reach an upstream.
 */
export async function startRecordingOrigin(): Promise<RecordingOrigin> {
  const chunks: Buffer[] = [];
  const server = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (data) => {
      chunks.push(Buffer.from(data));
      buffered = Buffer.concat([buffered, data]);
      while (true) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString('latin1');
        let rest = buffered.subarray(end + 4);
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (length) {
          const n = Number(length[1]);
          if (rest.length < n) return;
          rest = rest.subarray(n);
        } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
          const last = rest.indexOf('0\r\n\r\n');
          if (last < 0) return;
          rest = rest.subarray(last + 5);
        }
        buffered = rest;
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
    });
    socket.on('error', () => {});
  });
  const { sockets, count } = trackSockets(server);
  const port = await listen(server);
  return {
    port,
    address: `127.0.0.1:${port}`,
    connections: count,
    received: () => Buffer.concat(chunks).toString('latin1'),
    open: () => sockets.size,
    close: closer(server, sockets),
  };
}

export interface EchoOrigin extends Origin {
  /** Requests served so far. */
  requests(): number;
}

/**
 * A keep-alive node:http origin. Default answer: JSON { method, url, headers, rawHeaders, bodyLength,
 * bodySha256 }. Query parameters change it: status=N, delay=ms (before the head), bytes=N (stream N
 * bytes of "x" instead, chunked unless length=1), header=name:value (repeatable), body=text.
 */
export async function startEchoOrigin(options: { name?: string } = {}): Promise<EchoOrigin> {
  let requests = 0;
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://origin');
    const hash = createHash('sha256');
    let bodyLength = 0;
    req.on('data', (chunk: Buffer) => {
      bodyLength += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      const respond = (): void => {
        if (res.destroyed) return;
        const status = Number(url.searchParams.get('status') ?? 200);
        for (const header of url.searchParams.getAll('header')) {
          const colon = header.indexOf(':');
          res.setHeader(header.slice(0, colon), header.slice(colon + 1));
        }
        if (options.name) res.setHeader('x-origin', options.name);
        const bytes = url.searchParams.get('bytes');
        if (bytes !== null) {
          streamBytes(res, status, Number(bytes), url.searchParams.get('length') === '1');
          return;
        }
        const text = url.searchParams.get('body');
        const body = text ?? JSON.stringify({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, bodyLength, bodySha256: hash.digest('hex'), origin: options.name });
        res.writeHead(status, { 'content-type': text === null ? 'application/json' : 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      const delay = Number(url.searchParams.get('delay') ?? 0);
      if (delay > 0) {
        const timer = setTimeout(respond, delay);
        res.on('close', () => clearTimeout(timer));
      } else respond();
    });
  });
  const { sockets, count } = trackSockets(server);
  const port = await listen(server);
  return { port, address: `127.0.0.1:${port}`, connections: count, requests: () => requests, close: closer(server, sockets) };
}

/** Streams `total` bytes in 64 KB chunks with backpressure. */
function streamBytes(res: http.ServerResponse, status: number, total: number, withLength: boolean): void {
  res.writeHead(status, withLength ? { 'content-type': 'application/octet-stream', 'content-length': total } : { 'content-type': 'application/octet-stream' });
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/** Answers anything with bytes that are not HTTP (after the first request bytes arrive). */
export async function startGarbageOrigin(reply = 'this is not http\r\n\r\n'): Promise<Origin> {
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.end(reply));
    socket.on('error', () => {});
  });
  const { sockets, count } = trackSockets(server);
  const port = await listen(server);
  return { port, address: `127.0.0.1:${port}`, connections: count, close: closer(server, sockets) };
}

export interface TcpEchoOrigin extends Origin {
  /** The first chunk of each connection, in order (a PROXY protocol header shows here). */
  firstBytes: Buffer[];
}

/** A TCP origin that echoes every chunk back, after `prefix` (e.g. its name, to tell backends apart). */
export async function startTcpEchoOrigin(prefix = ''): Promise<TcpEchoOrigin> {
  const firstBytes: Buffer[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let first = true;
    socket.on('data', (chunk) => {
      if (first) firstBytes.push(chunk);
      first = false;
      socket.write(prefix === '' ? chunk : Buffer.concat([Buffer.from(prefix), chunk]));
    });
    socket.on('end', () => socket.end());
  });
  const { sockets, count } = trackSockets(server);
  const port = await listen(server);
  return { port, address: `127.0.0.1:${port}`, connections: count, close: closer(server, sockets), firstBytes };
}

/** Accepts connections, reads everything, never answers: for response timeouts. */
export async function startSilentOrigin(): Promise<Origin> {
  const server = net.createServer((socket) => {
    socket.resume();
    socket.on('error', () => {});
  });
  const { sockets, count } = trackSockets(server);
  const port = await listen(server);
  return { port, address: `127.0.0.1:${port}`, connections: count, close: closer(server, sockets) };
}

/**
 * A port that refuses connections: kept bound, not listening, for the rest of this test process
 * (ports.ts anchorPort), so no parallel test or outgoing connection can take it and answer.
 */
export async function refusedPort(): Promise<number> {
  return (await anchorPort('127.0.0.1', 0, { untilExit: true })).port;
}

/** A WebSocket echo origin (RFC 6455: handshake, masked client frames, unmasked echoes, close). */
export async function startWebSocketOrigin(): Promise<Origin> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-length': 0 });
    res.end();
  });
  server.on('upgrade', (req, socket: net.Socket, head: Buffer) => {
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
    let buffered = head;
    const onData = (data: Buffer): void => {
      buffered = Buffer.concat([buffered, data]);
      while (buffered.length >= 2) {
        const opcode = buffered[0] & 0x0f;
        let length = buffered[1] & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (buffered.length < 4) return;
          length = buffered.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffered.length < 10) return;
          length = Number(buffered.readBigUInt64BE(2));
          offset = 10;
        }
        const masked = (buffered[1] & 0x80) !== 0;
        const maskOffset = offset;
        if (masked) offset += 4;
        if (buffered.length < offset + length) return;
        const payload = Buffer.from(buffered.subarray(offset, offset + length));
        if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buffered[maskOffset + (i % 4)];
        buffered = buffered.subarray(offset + length);
        if (opcode === 0x8) {
          socket.end(frame(0x8, payload));
          return;
        }
        if (opcode === 0x9) socket.write(frame(0xa, payload));
        else if (opcode === 0x1 || opcode === 0x2) socket.write(frame(opcode, payload));
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    if (head.length > 0) onData(Buffer.alloc(0));
  });
  const { sockets, count } = trackSockets(server);
  const port = await listen(server);
  return { port, address: `127.0.0.1:${port}`, connections: count, close: closer(server, sockets) };
}

function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, length]) : length < 65536 ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff]) : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(length)]);
  return Buffer.concat([header, payload]);
}

function bigLength(length: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(length));
  return out;
}
