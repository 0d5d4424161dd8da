// The UDP listener (TCP is in tcp.ts). Listeners only move bytes: each message goes to the current engine
// through `answer`, and whatever comes back (bytes or 'drop') is sent.
import dgram from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import { lookup } from 'node:dns';
import type { ChainOutcome } from './chain.ts';
import type { RateVerdict } from './rate-limit.ts';
import { truncateResponse } from './render.ts';

export type Answerer = (message: Buffer, transport: 'udp' | 'tcp', clientAddress: string) => ChainOutcome | Promise<ChainOutcome>;

export interface BoundAddress {
  transport: 'udp' | 'tcp' | 'tls';
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
    // reusePort: every traffic worker binds the address and the kernel spreads datagrams by source
    // address:port; exclusive: a cluster worker binds its own socket instead of asking the primary for one
    // (the primary holds no DNS socket, so a flood never reaches the control plane).
    const socket = dgram.createSocket({ type: isIPv6(this.host) ? 'udp6' : 'udp4', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER, lookup: literalAddress, reusePort: process.platform === 'linux' });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port, address: this.host, exclusive: true }, () => {
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
