// An HTTP/2 origin (node:http2, h2c or TLS) for upstream tests. GET /bytes/N streams N bytes of "x" in
// 16 KiB writes honouring backpressure; anything else answers JSON { origin, path, headers }.
import http2, { type Http2Server, type Http2SecureServer, type ServerHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface H2Origin {
  port: number;
  address: string;
  streams: () => number;
  sessions: () => number;
  close: () => Promise<void>;
}

function handle(name: string, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  stream.on('error', () => undefined);
  const path = String(headers[':path']);
  const bytes = /^\/bytes\/(\d+)/.exec(path);
  if (bytes) {
    let left = Number(bytes[1]);
    const chunk = Buffer.alloc(16 * 1024, 'x');
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream', 'x-origin': name });
    const pump = () => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!stream.write(piece)) return void stream.once('drain', pump);
      }
      stream.end();
    };
    pump();
    return;
  }
  const body = JSON.stringify({ origin: name, path, headers });
  stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-origin': name });
  stream.end(body);
}

/** `refuse`: every stream is reset with REFUSED_STREAM before any response (a backend shedding load). */
export async function startH2Origin(name: string, tls?: { cert: Buffer; key: Buffer }, refuse = false): Promise<H2Origin> {
  const server: Http2Server | Http2SecureServer = tls ? http2.createSecureServer({ cert: tls.cert, key: tls.key }) : http2.createServer();
  let streams = 0;
  let sessions = 0;
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions++;
    open.add(session);
    session.on('close', () => open.delete(session));
    session.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    streams++;
    stream.on('error', () => undefined);
    if (refuse) return void stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    handle(name, stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    streams: () => streams,
    sessions: () => sessions,
    close: async () => {
      for (const session of open) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
