// ACME tls-alpn-01 (RFC 8737): a validation connection names the domain in SNI and offers only the ALPN
// protocol "acme-tls/1"; it must get a self-signed certificate carrying the challenge, and nobody else may.
// Node picks the certificate (SNICallback) before it sees the client's ALPN list, so the ClientHello is
// read here first, before the socket goes to the TLS server: only while a challenge is pending (the rest
// of the time a connection goes straight through), and bounded in size and time.
import tls, { type SecureContext } from 'node:tls';
import type { Socket } from 'node:net';

export const ACME_TLS_ALPN = 'acme-tls/1';

/** Pending tls-alpn-01 certificates of this process, by server name. */
export interface AlpnChallengeSource {
  /** Number of names with a pending challenge; 0 lets every connection through untouched. */
  readonly size: number;
  context(servername: string): SecureContext | undefined;
}

/** A TLS record header plus the largest ClientHello read (one record, as clients send it). */
const maxHelloBytes = 5 + 16_384;

/** Server name and ALPN protocols of a ClientHello record, or undefined when `data` is not a complete one. */
export function readClientHello(data: Buffer): { servername?: string; alpn: string[] } | undefined {
  if (data.length < 5 || data[0] !== 22) return undefined;
  const end = 5 + data.readUInt16BE(3);
  if (data.length < end || data[5] !== 1) return undefined;
  let at = 9 + 2 + 32; // handshake header, client version, random
  const skip = (lengthBytes: number): boolean => {
    if (at + lengthBytes > end) return false;
    at += lengthBytes + (lengthBytes === 1 ? data[at] : data.readUInt16BE(at));
    return at <= end;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return undefined; // session id, cipher suites, compression methods
  if (at + 2 > end) return { alpn: [] };
  const extensionsEnd = Math.min(end, at + 2 + data.readUInt16BE(at));
  at += 2;
  const hello: { servername?: string; alpn: string[] } = { alpn: [] };
  while (at + 4 <= extensionsEnd) {
    const type = data.readUInt16BE(at);
    const length = data.readUInt16BE(at + 2);
    const body = data.subarray(at + 4, Math.min(at + 4 + length, extensionsEnd));
    at += 4 + length;
    if (type === 0 && body.length >= 5 && body[2] === 0) {
      hello.servername = body.toString('latin1', 5, Math.min(body.length, 5 + body.readUInt16BE(3))).toLowerCase();
    } else if (type === 16 && body.length >= 2) {
      for (let i = 2; i < body.length; ) {
        const size = body[i];
        hello.alpn.push(body.toString('latin1', i + 1, Math.min(body.length, i + 1 + size)));
        i += 1 + size;
      }
    }
  }
  return hello;
}

/**
 * Routes raw sockets of an https listener: a tls-alpn-01 validation to a TLS server of its own that
 * answers with the challenge certificate and closes; everything else to `normal`.
 */
export class AlpnChallengeRouter {
  private readonly source: AlpnChallengeSource;
  private readonly timeoutMs: number;
  private server: tls.Server | undefined;

  constructor(source: AlpnChallengeSource, timeoutMs: number) {
    this.source = source;
    this.timeoutMs = timeoutMs;
  }

  accept(socket: Socket, normal: (socket: Socket) => void): void {
    if (this.source.size === 0) return normal(socket);
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => socket.destroy(), this.timeoutMs);
    const decide = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      const data = Buffer.concat(chunks);
      socket.unshift(data);
      const hello = readClientHello(data);
      const context = hello?.servername !== undefined && hello.alpn.length === 1 && hello.alpn[0] === ACME_TLS_ALPN ? this.source.context(hello.servername) : undefined;
      if (context === undefined) return normal(socket);
      // paused, with the ClientHello pushed back: the TLS socket reads what is buffered first
      this.challengeServer().emit('connection', socket);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      const first = chunks[0];
      const needed = first.length >= 5 ? 5 + first.readUInt16BE(3) : Infinity;
      if (length >= needed || length >= maxHelloBytes || first[0] !== 22) decide();
    };
    const onEnd = (): void => decide();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.on('error', () => clearTimeout(timer));
    socket.resume();
  }

  close(): void {
    this.server?.close();
    this.server = undefined;
  }

  /** The validation server: challenge certificates by SNI, ALPN acme-tls/1 only, closed after the handshake (RFC 8737 3). */
  private challengeServer(): tls.Server {
    if (this.server) return this.server;
    const server = tls.createServer({
      SNICallback: (servername, done) => {
        const context = this.source.context(servername.toLowerCase());
        if (context) done(null, context);
        else done(new Error(`no tls-alpn-01 challenge for ${servername}`));
      },
      ALPNProtocols: [ACME_TLS_ALPN],
      handshakeTimeout: this.timeoutMs,
    });
    server.on('secureConnection', (socket) => socket.end());
    server.on('tlsClientError', (_err, socket) => socket.destroy());
    this.server = server;
    return server;
  }
}
