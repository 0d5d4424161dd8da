// The origins of the conformance suite: two backends (a, b) of each upstream kind — HTTP/1.1, HTTP/1.1 over
// TLS (node:https), h2c (node:http2) and gRPC (@grpc/grpc-js with a raw-bytes service) — sharing one
// behaviour, steered by request fields so every case reads the same on every kind:
//   x-conf-id: ID     names the request (what each backend saw is recorded under it, and `arrived` fires)
//   x-mode: fail-once  the first try of an ID fails (HTTP 503; gRPC UNAVAILABLE, trailers-only), later ones pass
//   x-mode: fail-late  gRPC: response headers first, then UNAVAILABLE (not safe to retry); HTTP: like fail-once
//   x-mode: budget     the first try of an ID fails, the next one is held until release()
//   x-mode: hold       held until release() or until the edge gives up on it
// A passing answer is JSON naming the backend, the method, path and request fields it received, with the
// response fields `x-origin` and `x-internal` (for the headers filter) and, on gRPC, trailer `x-backend`.
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';

export const upstreamKinds = ['h1', 'h1tls', 'h2c', 'grpc'] as const;
export type UpstreamKind = (typeof upstreamKinds)[number];

export interface Seen {
  origin: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  bodyBytes: number;
}

export interface Answer extends Seen {
  kind: UpstreamKind;
}

type Action = 'ok' | 'fail' | 'fail-late' | 'hold';

/** State shared by every origin of the suite. */
export class OriginBook {
  readonly seen = new Map<string, Seen[]>();
  readonly arrived = new EventEmitter();
  private readonly holds = new Set<() => void>();

  /** What the backend does with this try, recorded first. */
  decide(seen: Seen): Action {
    const id = seen.headers['x-conf-id'] ?? '';
    const before = this.seen.get(id) ?? [];
    before.push(seen);
    this.seen.set(id, before);
    this.arrived.emit('request', id, seen);
    const mode = seen.headers['x-mode'];
    const first = before.length === 1;
    if (mode === 'fail-once') return first ? 'fail' : 'ok';
    if (mode === 'fail-late') return first ? 'fail-late' : 'ok';
    if (mode === 'budget') return first ? 'fail' : 'hold';
    if (mode === 'hold') return 'hold';
    return 'ok';
  }

  hold(answer: () => void): () => void {
    this.holds.add(answer);
    return () => this.holds.delete(answer);
  }

  /** Answers every held request. */
  release(): void {
    const held = [...this.holds];
    this.holds.clear();
    for (const answer of held) answer();
  }

  /** Resolves once `count` tries of requests whose id starts with `prefix` arrived (already or later). */
  waitForArrivals(prefix: string, count: number): Promise<void> {
    const have = () => [...this.seen.entries()].filter(([id]) => id.startsWith(prefix)).reduce((sum, [, tries]) => sum + tries.length, 0);
    if (have() >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (this.arrived.off('request', check), reject(new Error(`only ${have()} of ${count} tries of ${prefix}* reached an origin`))), 10_000);
      const check = () => {
        if (have() < count) return;
        clearTimeout(timer);
        this.arrived.off('request', check);
        resolve();
      };
      this.arrived.on('request', check);
    });
  }
}

export interface Backend {
  kind: UpstreamKind;
  name: string;
  address: string;
  close(): Promise<void>;
}

const flat = (headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !name.startsWith(':')) out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  return out;
};

function listen(server: http.Server | https.Server | http2.Http2Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function http1Handler(book: OriginBook, kind: UpstreamKind, name: string): http.RequestListener {
  return (req, res) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    req.on('end', () => {
      const seen: Seen = { origin: name, method: req.method ?? '', path: req.url ?? '', headers: flat(req.headers), bodyBytes };
      const action = book.decide(seen);
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json', 'x-origin': name, 'x-internal': 'secret' });
        res.end(JSON.stringify({ kind, ...seen } satisfies Answer));
      };
      if (action === 'fail' || action === 'fail-late') {
        res.writeHead(503, { 'content-type': 'text/plain', 'x-origin': name });
        return void res.end(`${name} failed\n`);
      }
      if (action === 'hold') {
        const forget = book.hold(answer);
        return void res.on('close', forget);
      }
      answer();
    });
  };
}

export async function startHttp1(book: OriginBook, name: string): Promise<Backend> {
  const server = http.createServer(http1Handler(book, 'h1', name));
  const address = await listen(server);
  return { kind: 'h1', name, address, close: () => closeHttp(server) };
}

export async function startHttps(book: OriginBook, name: string, cert: Buffer, key: Buffer): Promise<Backend> {
  const server = https.createServer({ cert, key, ALPNProtocols: ['http/1.1'] }, http1Handler(book, 'h1tls', name));
  const address = await listen(server);
  return { kind: 'h1tls', name, address, close: () => closeHttp(server) };
}

function closeHttp(server: http.Server | https.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startH2c(book: OriginBook, name: string): Promise<Backend> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    let bodyBytes = 0;
    stream.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    stream.on('error', () => undefined);
    stream.on('end', () => {
      const seen: Seen = { origin: name, method: String(headers[':method']), path: String(headers[':path']), headers: flat(headers), bodyBytes };
      const action = book.decide(seen);
      const answer = () => {
        if (stream.destroyed || stream.closed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-origin': name, 'x-internal': 'secret' });
        stream.end(JSON.stringify({ kind: 'h2c', ...seen } satisfies Answer));
      };
      if (action === 'fail' || action === 'fail-late') {
        stream.respond({ ':status': 503, 'content-type': 'text/plain', 'x-origin': name });
        return void stream.end(`${name} failed\n`);
      }
      if (action === 'hold') {
        const forget = book.hold(answer);
        return void stream.on('close', forget);
      }
      answer();
    });
  });
  const address = await listen(server);
  return {
    kind: 'h2c',
    name,
    address,
    close: () => {
      for (const session of sessions) session.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** gRPC paths: `/grpc.<sub>.Conf/Call`, one service per route of the suite. */
export const grpcPath = (sub: string) => `/grpc.${sub}.Conf/Call`;

const raw = (buffer: Buffer) => buffer;

export async function startGrpc(book: OriginBook, name: string, subs: string[]): Promise<Backend> {
  const server = new grpc.Server();
  for (const sub of subs) {
    const definition: grpc.ServiceDefinition = {
      Call: { path: grpcPath(sub), requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
    };
    server.addService(definition, {
      Call: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const headers: Record<string, string> = {};
        for (const [key, value] of Object.entries(call.metadata.getMap())) headers[key] = String(value);
        const seen: Seen = { origin: name, method: 'POST', path: call.getPath(), headers, bodyBytes: call.request.length };
        const action = book.decide(seen);
        const trailers = new grpc.Metadata();
        trailers.set('x-backend', name);
        const answer = () => {
          if (call.cancelled) return;
          const initial = new grpc.Metadata();
          initial.set('x-origin', name);
          initial.set('x-internal', 'secret');
          call.sendMetadata(initial);
          callback(null, Buffer.from(JSON.stringify({ kind: 'grpc', ...seen } satisfies Answer)), trailers);
        };
        if (action === 'fail') return callback({ code: grpc.status.UNAVAILABLE, details: `${name} failed`, metadata: trailers });
        if (action === 'fail-late') {
          const initial = new grpc.Metadata();
          initial.set('x-origin', name);
          call.sendMetadata(initial);
          return callback({ code: grpc.status.UNAVAILABLE, details: `${name} failed late`, metadata: trailers });
        }
        if (action === 'hold') {
          const forget = book.hold(answer);
          return void call.on('cancelled', forget);
        }
        answer();
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))));
  return { kind: 'grpc', name, address: `127.0.0.1:${port}`, close: async () => server.forceShutdown() };
}
