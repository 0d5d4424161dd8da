// Helpers for the L7 end-to-end tests: a proxy built from inline config on port 0 with real pools,
// a captured access log, and a raw-socket client that counts complete responses.
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Origin } from '../../support/origins.ts';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { configSchema } from '../../../src/config/index.ts';
import { systemClock, silentLogger } from '../../../src/core/index.ts';
import { buildPools, type PoolRegistry } from '../../../src/pool/index.ts';
import { createHttpListener, type HttpListener, type HttpListenerDeps, type UpstreamPool, type ExchangeRequest, type ExchangeDownstream } from '../../../src/l7/index.ts';
import type { EdgeError } from '../../../src/core/index.ts';

export interface TestProxy {
  port: number;
  listener: HttpListener;
  pools: PoolRegistry;
  /** Access-log lines written so far, parsed. */
  accessLog: Record<string, unknown>[];
  stop(): Promise<void>;
}

/**
 * Starts a listener on 127.0.0.1:0. `listener` is the listener's YAML shape without name/listen;
 * `pools` maps pool names to pool config (e.g. { backends: [{ address }] }).
 */
export async function startProxy(listener: Record<string, unknown>, pools: Record<string, unknown> = {}, deps: Partial<HttpListenerDeps> = {}): Promise<TestProxy> {
  const config = configSchema.parse({ pools, listeners: [{ name: 'test', listen: '127.0.0.1:0', ...listener }] });
  const registry = buildPools(config.pools, { clock: systemClock });
  const poolMap = new Map<string, UpstreamPool>();
  for (const name of registry.names()) poolMap.set(name, registry.require(name));
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.length > 0) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const accessLog = pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, sink);
  const proxy = createHttpListener(config.listeners[0], { pools: poolMap, accessLog, logger: silentLogger(), ...deps });
  await proxy.start();
  return {
    port: proxy.address().port,
    listener: proxy,
    pools: registry,
    accessLog: lines,
    async stop() {
      await proxy.stop();
      registry.close();
    },
  };
}

export interface RawResult {
  /** Everything received (latin1). */
  text: string;
  /** Complete responses, split. */
  responses: { status: number; head: string; body: string }[];
  /** Whether the server closed the connection. */
  closed: boolean;
}

/**
 * Writes `data` (one write, or several when an array) to the proxy and collects what comes back until
 * `responses` complete responses arrived (then it closes) or the server closes, bounded by `timeoutMs`.
 */
export function rawExchange(port: number, data: string | Buffer | (string | Buffer)[], options: { responses?: number; timeoutMs?: number } = {}): Promise<RawResult> {
  const want = options.responses ?? Infinity;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let closed = false;
    let done = false;
    const timer = setTimeout(() => finish(), options.timeoutMs ?? 5000);
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      // one more turn of the event loop: the proxy's batched access-log line (flushed in the check phase
      // of the turn that wrote the response) is then in `accessLog`
      setImmediate(() => resolve({ text: received.toString('latin1'), responses: splitResponses(received), closed }));
    };
    socket.on('connect', () => {
      for (const part of Array.isArray(data) ? data : [data]) socket.write(part);
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (splitResponses(received).length >= want) finish();
    });
    socket.on('end', () => {
      closed = true;
      finish();
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') {
        closed = true;
        finish();
      } else reject(err);
    });
  });
}

/** Splits a byte stream into complete HTTP/1.1 responses (Content-Length or chunked; 1xx have no body). */
export function splitResponses(data: Buffer): { status: number; head: string; body: string }[] {
  const out: { status: number; head: string; body: string }[] = [];
  let offset = 0;
  while (offset < data.length) {
    const end = data.indexOf('\r\n\r\n', offset);
    if (end < 0) break;
    const head = data.subarray(offset, end).toString('latin1');
    const status = Number(head.slice(9, 12));
    let bodyStart = end + 4;
    let body = '';
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (status < 200 || status === 204 || status === 304) {
      // no body
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      let p = bodyStart;
      const parts: Buffer[] = [];
      while (true) {
        const lineEnd = data.indexOf('\r\n', p);
        if (lineEnd < 0) return out;
        const size = parseInt(data.subarray(p, lineEnd).toString('latin1'), 16);
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n\r\n', lineEnd - 2);
          if (trailerEnd < 0) return out;
          bodyStart = trailerEnd + 4;
          break;
        }
        if (data.length < lineEnd + 2 + size + 2) return out;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts).toString('latin1');
      out.push({ status, head, body });
      offset = bodyStart;
      continue;
    } else if (length) {
      const n = Number(length[1]);
      if (data.length < bodyStart + n) break;
      body = data.subarray(bodyStart, bodyStart + n).toString('latin1');
      bodyStart += n;
    } else {
      break; // close-delimited: complete only at EOF
    }
    out.push({ status, head, body });
    offset = bodyStart;
  }
  return out;
}

/** Header value from a response head (case-insensitive), or undefined. */
export function headerOf(head: string, name: string): string | undefined {
  const match = new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, 'i').exec(head);
  return match ? match[1] : undefined;
}

/** Waits until `predicate` holds, checking every 10 ms, at most `timeoutMs` (for effects with no event, like a log line). */
export async function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

export interface BridgeAnswer {
  status: number;
  /** Flat: name0, value0, … */
  headers: string[];
  body: string;
  error?: EdgeError;
}

/**
 * A codec stand-in for handleExchange (the path src/h2 uses): feeds a parsed request and records what
 * L7 answers, resolving at end() or fail().
 */
export function bridgeExchange(listener: HttpListener, request: Partial<ExchangeRequest>, body?: string[]): Promise<BridgeAnswer> {
  return new Promise((resolve) => {
    const answer: BridgeAnswer = { status: 0, headers: [], body: '' };
    const downstream: ExchangeDownstream = {
      sendHead(status, headers) {
        answer.status = status;
        answer.headers = headers;
      },
      sendData(chunk) {
        answer.body += chunk.toString('utf8');
        return true;
      },
      // one more turn: the exchange's batched access-log line (written before end/fail) is then in accessLog
      end() {
        setImmediate(() => resolve(answer));
      },
      fail(error) {
        answer.error = error;
        setImmediate(() => resolve(answer));
      },
      pauseBody() {},
      resumeBody() {},
    };
    const handle = listener.handleExchange(
      { method: 'GET', authority: 'site.test', path: '/', scheme: 'https', headers: [], peerAddress: '127.0.0.1', contentLength: body ? -1 : 0, ...request },
      downstream,
    );
    if (body) {
      for (const part of body) handle.bodyData(Buffer.from(part));
      handle.bodyEnd();
    }
  });
}

export interface CountingOrigin extends Origin {
  /** Request heads received. */
  requests(): number;
}

/**
 * Listens on a free loopback port and describes `server` as a CountingOrigin; `dropConnections` ends what
 * is still open before the server closes.
 */
export async function listenCounting(server: net.Server, requests: () => number, dropConnections: () => void): Promise<CountingOrigin> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    connections: () => 0,
    requests,
    close: () =>
      new Promise((resolve) => {
        dropConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Reads a request head (and then `afterBody` bytes of its body, when given: a reset mid-body), then resets
 * the connection (RST) without answering.
 */
export async function startResettingOrigin(afterBody = 0): Promise<CountingOrigin> {
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let seen = '';
    let body = -1;
    socket.on('data', (chunk: Buffer) => {
      if (body < 0) {
        seen += chunk.toString('latin1');
        const end = seen.indexOf('\r\n\r\n');
        if (end < 0) return;
        requests++;
        body = seen.length - end - 4;
      } else body += chunk.length;
      if (body >= afterBody) socket.resetAndDestroy();
    });
  });
  return listenCounting(server, () => requests, () => {
    for (const socket of sockets) socket.destroy();
  });
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Which origin connection carried it (1-based, in accept order). */
  connection: number;
}

export interface LlhttpOrigin extends Origin {
  /** Complete requests as llhttp (node:http) parsed them, in order. */
  seen: SeenRequest[];
  /** Parse errors llhttp reported (bytes that were not a valid request). */
  errors: string[];
  /** Connections open right now. */
  open(): number;
}

/**
 * A node:http origin that records every request as llhttp parsed it (framing, headers, body) and every
 * parse error: proves what an upstream understood from what the proxy sent. Answers 200 `ok:<url>`.
 */
export async function startLlhttpOrigin(): Promise<LlhttpOrigin> {
  const seen: SeenRequest[] = [];
  const errors: string[] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const ids = new WeakMap<net.Socket, number>();
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(parts), connection: ids.get(req.socket) ?? 0 });
      res.end(`ok:${req.url}`);
    });
  });
  server.on('connection', (socket: net.Socket) => {
    ids.set(socket, ++accepted);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    errors.push(err.code ?? err.message);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    connections: () => accepted,
    open: () => sockets.size,
    seen,
    errors,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
