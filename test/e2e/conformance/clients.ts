// The downstream side of the conformance suite: one request function over the three ways a client reaches
// the edge — HTTP/1.1 (node:http), HTTP/2 with prior knowledge (h2c) and HTTP/2 over TLS (ALPN h2), both
// node:http2 — with gRPC calls sent as gRPC frames (content-type application/grpc, TE: trailers) so the
// same cells read HTTP status, fields, body and trailers on every pair; and the access log file read as
// JSON lines.
import http from 'node:http';
import http2 from 'node:http2';
import { watch, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';

export const downstreamKinds = ['h1', 'h2c', 'h2tls'] as const;
export type DownstreamKind = (typeof downstreamKinds)[number];

export interface Request {
  path: string;
  method?: string;
  host?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Send the body as one gRPC message (5-byte prefix) with gRPC's fields. */
  grpc?: boolean;
  /**
   * When it resolves, the client goes away: `reset` (default) resets what carries the request (HTTP/1.1: the
   * connection, RST; HTTP/2: the stream, RST_STREAM CANCEL), `close` closes the connection (FIN).
   */
  abortWhen?: Promise<unknown>;
  abortMode?: 'reset' | 'close';
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  /** The payload: a gRPC answer's message without its prefix. */
  body: Buffer;
  trailers: Record<string, string>;
}

const flat = (headers: Record<string, string | string[] | undefined>): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !name.startsWith(':')) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  return out;
};

const grpcFrame = (message: Buffer): Buffer => {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
};

const grpcPayload = (body: Buffer): Buffer => (body.length >= 5 ? body.subarray(5, 5 + body.readUInt32BE(1)) : body);

export interface Edge {
  port: Record<DownstreamKind, number>;
}

export function send(edge: Edge, kind: DownstreamKind, request: Request): Promise<Reply> {
  const fields: Record<string, string> = { ...request.headers };
  let body = request.body;
  if (request.grpc) {
    body = grpcFrame(body ?? Buffer.alloc(0));
    fields['content-type'] = 'application/grpc';
    fields.te = 'trailers';
  }
  if (body !== undefined) fields['content-length'] = String(body.length);
  const method = request.method ?? (request.grpc ? 'POST' : 'GET');
  const host = request.host ?? 'edge.test';
  // a trailers-only answer (gRPC errors) carries grpc-status in its one head
  const finish = (status: number, headers: Record<string, string>, raw: Buffer, trailers: Record<string, string>): Reply => ({
    status,
    trailers: trailers['grpc-status'] === undefined && headers['grpc-status'] !== undefined ? { 'grpc-status': headers['grpc-status'], 'grpc-message': headers['grpc-message'] ?? '' } : trailers,
    headers,
    body: request.grpc && headers['content-type']?.startsWith('application/grpc') ? grpcPayload(raw) : raw,
  });
  if (kind === 'h1') {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: edge.port.h1, method, path: request.path, headers: { host, ...fields }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(finish(res.statusCode ?? 0, flat(res.headers), Buffer.concat(chunks), flat(res.trailers))));
        res.on('error', reject);
      });
      req.on('error', reject);
      request.abortWhen?.then(() => {
        if (request.abortMode === 'close') req.destroy(new Error('closed by the test'));
        else {
          req.socket?.resetAndDestroy();
          reject(new Error('reset by the test'));
        }
      });
      req.end(body);
    });
  }
  const authority = `${host}`;
  const session = kind === 'h2c' ? http2.connect(`http://127.0.0.1:${edge.port.h2c}`) : http2.connect(`https://127.0.0.1:${edge.port.h2tls}`, { servername: host, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
  return new Promise<Reply>((resolve, reject) => {
    session.on('error', reject);
    const stream = session.request({ ':method': method, ':path': request.path, ':authority': authority, ...fields }, { endStream: body === undefined });
    let status = 0;
    let headers: Record<string, string> = {};
    let trailers: Record<string, string> = {};
    const chunks: Buffer[] = [];
    stream.on('response', (head) => {
      status = Number(head[':status']);
      headers = flat(head);
    });
    stream.on('trailers', (fields) => (trailers = flat(fields)));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(finish(status, headers, Buffer.concat(chunks), trailers)));
    stream.on('error', reject);
    stream.on('close', () => {
      if (stream.rstCode !== 0 && status === 0) reject(new Error(`stream reset with code ${stream.rstCode}`));
    });
    request.abortWhen?.then(() => {
      if (request.abortMode === 'close') session.destroy();
      else stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error('abandoned by the test'));
    });
    if (body !== undefined) stream.end(body);
  }).finally(() => session.close());
}

/** The access log file, read as it grows; lines are found by a predicate, waiting for writes (inotify). */
export class AccessLogFile {
  readonly lines: Record<string, unknown>[] = [];
  private offset = 0;
  private partial = '';
  private readonly path: string;
  private readonly watcher: FSWatcher;
  private readonly waiters = new Set<() => void>();

  constructor(path: string) {
    this.path = path;
    this.watcher = watch(path, () => {
      for (const wake of [...this.waiters]) wake();
    });
  }

  private async readMore(): Promise<void> {
    const handle = await open(this.path, 'r');
    try {
      const { size } = await handle.stat();
      if (size <= this.offset) return;
      const buffer = Buffer.alloc(size - this.offset);
      await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset = size;
      const text = this.partial + buffer.toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      for (const line of parts) if (line.length > 0) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    } finally {
      await handle.close();
    }
  }

  /** The line with this request id, once written (the file sink flushes within 100 ms). */
  line(requestId: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
    return this.find((line) => line.request_id === requestId, `request_id ${requestId}`, timeoutMs);
  }

  /** The first line that satisfies `predicate`, once written. */
  async find(predicate: (line: Record<string, unknown>) => boolean, what: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const changed = new Promise<void>((resolve) => {
        const wake = () => (this.waiters.delete(wake), clearTimeout(timer), resolve());
        // a write that landed between the read and the watch is picked up by the bounded re-read
        const timer = setTimeout(wake, 250);
        this.waiters.add(wake);
      });
      await this.readMore();
      const found = this.lines.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no access log line with ${what} within ${timeoutMs} ms (${this.lines.length} lines)`);
      await changed;
    }
  }

  close(): void {
    this.watcher.close();
  }
}
