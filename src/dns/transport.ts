// The UDP listener (TCP is in tcp.ts). Listeners only move bytes: each message goes to the current engine
// through `answer`, and whatever comes back (bytes or 'drop') is sent. Datagrams come and go in batches
// through the recvmmsg/sendmmsg addon (udp-batch.ts) when it is built, else one by one through node:dgram.
import dgram from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import { lookup } from 'node:dns';
import type { ChainOutcome } from './chain.ts';
import type { RateVerdict } from './rate-limit.ts';
import { truncateResponse } from './render.ts';
import { udpBatchAddon, type BatchSocket, type UdpBatchAddon } from './udp-batch.ts';

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

export interface UdpListenerOptions {
  /** Use the batching addon when it is built (default true); false: node:dgram (tests of the fallback). */
  batch?: boolean;
}

export class UdpListener {
  private socket: dgram.Socket | undefined;
  /** The addon's socket and its reused batch of answers (which slot each goes back to). */
  private batched: { addon: UdpBatchAddon; socket: BatchSocket; out: Buffer[]; slots: Int32Array } | undefined;
  readonly host: string;
  private readonly answer: Answerer;
  private readonly rateLimit: ((address: string) => RateVerdict) | undefined;
  private readonly onLimited: (verdict: RateVerdict) => void;
  private readonly useBatch: boolean;

  constructor(host: string, answer: Answerer, rateLimit: ((address: string) => RateVerdict) | undefined, onLimited: (verdict: RateVerdict) => void, options: UdpListenerOptions = {}) {
    this.host = host;
    this.answer = answer;
    this.rateLimit = rateLimit;
    this.onLimited = onLimited;
    this.useBatch = options.batch ?? true;
  }

  /** 'batch' (recvmmsg/sendmmsg addon) or 'dgram', once listening. */
  get mode(): 'batch' | 'dgram' | undefined {
    return this.batched ? 'batch' : this.socket ? 'dgram' : undefined;
  }

  async listen(port: number): Promise<number> {
    // the addon binds IP literals only; a host name goes through dgram's lookup
    const addon = this.useBatch && isIP(this.host) !== 0 ? udpBatchAddon() : null;
    if (addon !== null) {
      const socket = addon.open(this.host, port, isIPv6(this.host), (count) => this.onBatch(count));
      this.batched = { addon, socket, out: new Array<Buffer>(socket.batch), slots: new Int32Array(socket.batch) };
      return socket.port;
    }
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

  /**
   * One batch from the addon: each datagram is copied out of the shared buffer (a resolver's answer may
   * outlive the batch), answered, and the synchronous answers go back in one sendmmsg.
   */
  private onBatch(count: number): void {
    const batched = this.batched;
    if (batched === undefined) return;
    const { addon, socket, out, slots } = batched;
    const { rx, lens, addresses, slot } = socket;
    let ready = 0;
    for (let index = 0; index < count; index++) {
      const length = lens[index];
      if (length < 0) continue;
      const start = index * slot;
      const message = Buffer.allocUnsafe(length);
      rx.copy(message, 0, start, start + length);
      const address = addresses[index];
      const outcome = this.answer(message, 'udp', address);
      if (outcome instanceof Promise) {
        const saved = addon.saveAddress(socket.handle, index);
        outcome.then((result) => this.sendLater(result, address, saved));
        continue;
      }
      const response = this.limited(outcome, address);
      if (response === undefined) continue;
      out[ready] = response;
      slots[ready] = index;
      ready++;
    }
    if (ready > 0) addon.sendBatch(socket.handle, out, slots, ready);
  }

  /** An answer that waited (the resolver), to an address saved from its batch. */
  private sendLater(outcome: ChainOutcome, address: string, saved: Buffer): void {
    const batched = this.batched;
    if (batched === undefined) return; // closed meanwhile
    const response = this.limited(outcome, address);
    if (response !== undefined) batched.addon.sendTo(batched.socket.handle, response, saved);
  }

  /** What goes out for an outcome after response rate limiting: undefined to send nothing. */
  private limited(outcome: ChainOutcome, address: string): Buffer | undefined {
    if (outcome === 'drop') return undefined;
    if (this.rateLimit === undefined) return outcome;
    const verdict = this.rateLimit(address);
    if (verdict === 'send') return outcome;
    this.onLimited(verdict);
    return verdict === 'drop' ? undefined : truncateResponse(outcome);
  }

  private send(outcome: ChainOutcome, port: number, address: string): void {
    const socket = this.socket;
    if (socket === undefined) return;
    const response = this.limited(outcome, address);
    if (response === undefined) return;
    try {
      socket.send(response, port, address);
    } catch {
      // socket closed during a reload or stop
    }
  }

  close(): Promise<void> {
    const batched = this.batched;
    this.batched = undefined;
    batched?.addon.close(batched.socket.handle);
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}
