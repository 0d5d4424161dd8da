// How far a fast origin gets ahead of a client through a compressing proxy: the origin writes `total` bytes
// of very compressible text as fast as its socket takes them; the client reads the chunked gzip answer and
// decodes it as it comes. The worst gap between bytes the origin handed to its socket and bytes the client
// decoded is what the proxy (and the socket buffers between) held at once.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { createGunzip } from 'node:zlib';

export interface FastOrigin {
  port: number;
  /** The worst origin-ahead-of-client gap seen, in bytes. */
  worstLag(): number;
  /** Fetches `request` (a raw head naming any path) through `proxyPort`; resolves when all of `total` is decoded. */
  fetch(proxyPort: number, request: string): Promise<void>;
  /** The same over HTTP/2 with prior knowledge (an h2c listener at `authority`). */
  fetchH2(authority: string, path: string): Promise<void>;
  close(): Promise<void>;
}

export async function fastOrigin(total: number): Promise<FastOrigin> {
  const block = Buffer.alloc(256 * 1024, 'a');
  let sent = 0;
  let decoded = 0;
  let worst = 0;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const pump = (): void => {
      while (sent < total) {
        sent += block.length;
        worst = Math.max(worst, sent - decoded);
        if (!res.write(block)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fetch = (proxyPort: number, request: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect(proxyPort, '127.0.0.1');
      // large output chunks: the client keeps up with a 1000:1 expansion
      const gunzip = createGunzip({ chunkSize: 1 << 20 });
      let head = true;
      let pending = Buffer.alloc(0);
      // chunked framing: sizes and CRLFs dropped, payload to gunzip
      let left = 0;
      let carry = Buffer.alloc(0);
      const unchunk = (chunk: Buffer): void => {
        let buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
        carry = Buffer.alloc(0);
        while (buf.length > 0) {
          if (left > 0) {
            const take = Math.min(left, buf.length);
            gunzip.write(buf.subarray(0, take));
            left -= take;
            buf = buf.subarray(take);
            continue;
          }
          const from = buf[0] === 0x0d ? 2 : 0;
          const line = buf.indexOf('\r\n', from);
          if (line < 0) return void (carry = Buffer.from(buf));
          left = parseInt(buf.toString('latin1', from, line), 16);
          buf = buf.subarray(line + 2);
          if (left === 0) return void gunzip.end();
        }
      };
      socket.on('data', (chunk: Buffer) => {
        if (!head) return void unchunk(chunk);
        pending = Buffer.concat([pending, chunk]);
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = false;
        const text = `${pending.toString('latin1', 0, end)}\r\n`;
        assert.match(text, /\r\ncontent-encoding: gzip\r\n/i);
        assert.match(text, /\r\ntransfer-encoding: chunked\r\n/i);
        unchunk(pending.subarray(end + 4));
      });
      gunzip.on('data', (out: Buffer) => (decoded += out.length));
      gunzip.on('end', () => {
        socket.destroy();
        if (decoded === total) resolve();
        else reject(new Error(`decoded ${decoded} of ${total}`));
      });
      gunzip.on('error', reject);
      socket.on('error', reject);
      socket.setTimeout(60_000, () => socket.destroy(new Error(`timed out at ${decoded} of ${total}`)));
      socket.write(request);
    });
  const fetchH2 = (authority: string, path: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const session = http2.connect(authority);
      session.on('error', reject);
      const stream = session.request({ ':path': path, 'accept-encoding': 'gzip' });
      const gunzip = createGunzip({ chunkSize: 1 << 20 });
      stream.on('response', (headers) => assert.equal(headers['content-encoding'], 'gzip'));
      stream.on('error', reject);
      stream.pipe(gunzip);
      gunzip.on('data', (out: Buffer) => (decoded += out.length));
      gunzip.on('error', reject);
      gunzip.on('end', () => {
        session.close();
        if (decoded === total) resolve();
        else reject(new Error(`decoded ${decoded} of ${total}`));
      });
    });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    worstLag: () => worst,
    fetch,
    fetchH2,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
