// UDP and TCP listeners. They only move bytes: each message goes to the current engine through `answer`,
// and whatever comes back (bytes or 'drop') is sent. TCP frames carry a 2-byte length (RFC 1035 4.2.2);
// a connection may pipeline many queries, idles out, and the listener caps concurrent connections.
import dgram from 'node:dgram';
import net from 'node:net';
import { isIP, isIPv6 } from 'node:net';
import { lookup } from 'node:dns';
import type { ChainOutcome } from './chain.ts';
import type { RateVerdict } from './rate-limit.ts';
import { truncateResponse } from './render.ts';

export type Answerer = (message: Buffer, transport: 'udp' | 'tcp', clientAddress: string) => ChainOutcome | Promise<ChainOutcome>;

export interface BoundAddress {
  transport: 'udp' | 'tcp';
  host: string;
  port: number;
}

/** Socket buffers large enough to ride out bursts (the kernel caps them at net.core.[rw]mem_max). */
const SOCKET_BUFFER = 4 * 1024 * 1024;

/**
 * Replies go to the literal address a datagram came from: skip dgram's default dns.lookup (an isIP check
 * and a process.nextTick per send, measurable at 100k answers/s) and hand the address straight back.
 */
function literalAddress(address: string, family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  const version = isIP(address);
  if (version !== 0) callback(null, address, version);
  else lookup(address, { family: family === 6 || family === 'IPv6' ? 6 : 4 }, callback); // a host name to bind to
}

export class UdpListener {
  private socket: dgram.Socket | undefined;
  readonly host: string;
  private readonly answer: Answerer;
  private readonly rateLimit: ((address: string) => RateVerdict) | undefined;
  private readonly onLimited: (verdict: RateVerdict) => void;

  constructor(host: string, answer: Answerer, rateLimit: ((address: string) => RateVerdict) | undefined, onLimited: (verdict: RateVerdict) => void) {
    this.host = host;
    this.answer = answer;
    this.rateLimit = rateLimit;
    this.onLimited = onLimited;
  }

  async listen(port: number): Promise<number> {
    const socket = dgram.createSocket({ type: isIPv6(this.host) ? 'udp6' : 'udp4', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER, lookup: literalAddress });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, this.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => {
      // per-datagram send errors (e.g. ICMP unreachable reported late) must not take the listener down
    });
    socket.on('message', (message, remote) => {
      const outcome = this.answer(message, 'udp', remote.address);
      if (outcome instanceof Promise) outcome.then((result) => this.send(result, remote.port, remote.address));
      else this.send(outcome, remote.port, remote.address);
    });
    return socket.address().port;
  }

  private send(outcome: ChainOutcome, port: number, address: string): void {
    const socket = this.socket;
    if (outcome === 'drop' || socket === undefined) return;
    let response = outcome;
    if (this.rateLimit !== undefined) {
      const verdict = this.rateLimit(address);
      if (verdict !== 'send') {
        this.onLimited(verdict);
        if (verdict === 'drop') return;
        response = truncateResponse(response);
      }
    }
    try {
      socket.send(response, port, address);
    } catch {
      // socket closed during a reload or stop
    }
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}

export interface TcpOptions {
  idleTimeout: number;
  maxConnections: number;
}

export class TcpListener {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  readonly host: string;
  private readonly answer: Answerer;
  private readonly options: TcpOptions;

  constructor(host: string, answer: Answerer, options: TcpOptions) {
    this.host = host;
    this.answer = answer;
    this.options = options;
  }

  get connections(): number {
    return this.sockets.size;
  }

  async listen(port: number): Promise<number> {
    const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    server.maxConnections = this.options.maxConnections;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: this.host, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as net.AddressInfo).port;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setTimeout(this.options.idleTimeout, () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const clientAddress = socket.remoteAddress ?? '';
    let pending: Buffer | undefined;
    const reply = (outcome: ChainOutcome): void => {
      if (outcome === 'drop' || socket.destroyed) return;
      const frame = Buffer.allocUnsafe(2 + outcome.length);
      frame.writeUInt16BE(outcome.length, 0);
      outcome.copy(frame, 2);
      socket.write(frame);
    };
    socket.on('data', (chunk: Buffer) => {
      let data = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      socket.cork();
      while (data.length >= 2) {
        const length = data.readUInt16BE(0);
        if (data.length < 2 + length) break;
        const message = data.subarray(2, 2 + length);
        data = data.subarray(2 + length);
        const outcome = this.answer(message, 'tcp', clientAddress);
        if (outcome instanceof Promise) outcome.then(reply);
        else reply(outcome);
      }
      socket.uncork();
      pending = data.length > 0 ? data : undefined;
    });
  }

  /** Stops accepting; open connections keep being served until they close or idle out. */
  stopAccepting(): void {
    this.server?.close();
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
