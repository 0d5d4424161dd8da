// A one-shot DNS client for the diagnostics: one query to one server over UDP (EDNS0) or TCP, retried over
// TCP when the UDP answer is truncated, as dig does; or over TLS (RFC 7858, the TCP framing inside TLS,
// verified against the system CAs plus any given CA). Times the exchange and keeps the wire size.
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Packet, RecordType } from 'dns-packet';
import { httpsExchange, type DohOptions } from './doh-client.ts';
import { DiagError } from './errors.ts';
import { joinHostPort } from './format.ts';

export const EDNS_UDP_SIZE = 1232;

export interface DnsQuery {
  name: string;
  type: RecordType;
  server: string;
  port: number;
  /** Recursion desired: dig's default; iterative walks (--trace) clear it. */
  recursion?: boolean;
  tcp?: boolean;
  /** DNS over TLS: the certificate is verified against `servername` (default: the server address). */
  tls?: DnsTlsOptions;
  /** DNS over HTTPS (RFC 8484) to this endpoint instead (server and port are the URL's). */
  https?: DohOptions;
  timeoutMs?: number;
  /** UDP attempts before giving up (dig: 3). */
  tries?: number;
}

export interface DnsTlsOptions {
  /** Extra trusted CA certificates (PEM), besides the system's. */
  ca?: Buffer[];
  /** The name the certificate must be for (SNI too). */
  servername?: string;
}

export interface DnsExchange {
  query: Packet;
  response: Packet;
  transport: 'UDP' | 'TCP' | 'TLS' | 'HTTPS';
  /** true when the UDP answer came back truncated and was asked again over TCP. */
  retriedOverTcp: boolean;
  server: string;
  port: number;
  elapsedMs: number;
  responseBytes: number;
  queryBytes: number;
}

export function buildQuery(name: string, type: RecordType, recursion: boolean): Packet {
  return {
    type: 'query',
    id: randomInt(0, 65536),
    flags: recursion ? dnsPacket.RECURSION_DESIRED : 0,
    questions: [{ type, name, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [] } as any],
  };
}

/** Sends one query; throws DiagError('DNS', …) on timeout, refusal or a malformed answer. */
export async function exchange(options: DnsQuery): Promise<DnsExchange> {
  const query = buildQuery(options.name, options.type, options.recursion ?? true);
  // RFC 8484 4.1: ID 0 over HTTPS, so that identical queries are identical requests (HTTP caching)
  if (options.https) query.id = 0;
  const wire = dnsPacket.encode(query);
  const timeoutMs = options.timeoutMs ?? 5000;
  const where = joinHostPort(options.server, options.port);
  const started = performance.now();
  if (options.https) {
    const bytes = await httpsExchange(wire, options.https, timeoutMs);
    const response = decode(bytes, options.https.url.href);
    return { query, response, transport: 'HTTPS', retriedOverTcp: false, server: options.server, port: options.port, elapsedMs: performance.now() - started, responseBytes: bytes.length, queryBytes: wire.length };
  }
  if (options.tls) {
    const bytes = await streamExchange(wire, options, timeoutMs, where, options.tls);
    const response = decode(bytes, where);
    return { query, response, transport: 'TLS', retriedOverTcp: false, server: options.server, port: options.port, elapsedMs: performance.now() - started, responseBytes: bytes.length, queryBytes: wire.length };
  }
  if (!options.tcp) {
    const tries = Math.max(1, options.tries ?? 3);
    let bytes: Buffer | undefined;
    for (let attempt = 0; attempt < tries && !bytes; attempt++) bytes = await udpExchange(wire, query.id!, options.server, options.port, timeoutMs);
    if (!bytes) throw new DiagError('DNS', `no answer from ${where} over UDP after ${tries} tr${tries === 1 ? 'y' : 'ies'} of ${timeoutMs} ms`);
    const response = decode(bytes, where);
    if (!(response as any).flag_tc) {
      return { query, response, transport: 'UDP', retriedOverTcp: false, server: options.server, port: options.port, elapsedMs: performance.now() - started, responseBytes: bytes.length, queryBytes: wire.length };
    }
  }
  const tcpStarted = performance.now();
  const bytes = await streamExchange(wire, options, timeoutMs, where, undefined);
  const response = decode(bytes, where);
  return { query, response, transport: 'TCP', retriedOverTcp: !options.tcp, server: options.server, port: options.port, elapsedMs: performance.now() - tcpStarted, responseBytes: bytes.length, queryBytes: wire.length };
}

function decode(bytes: Buffer, where: string): Packet {
  try {
    return dnsPacket.decode(bytes);
  } catch (err) {
    throw new DiagError('DNS', `malformed answer from ${where}: ${(err as Error).message}`);
  }
}

/** Resolves with the matching answer, or undefined on timeout (the caller retries). */
function udpExchange(wire: Buffer, id: number, server: string, port: number, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server) ? 'udp6' : 'udp4');
    const finish = (error: Error | undefined, value?: Buffer): void => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(undefined, undefined), timeoutMs);
    socket.on('message', (message) => {
      // a late answer to an earlier try, or someone else's datagram: keep waiting for ours
      if (message.length >= 2 && message.readUInt16BE(0) === id) finish(undefined, message);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const text = err.code === 'ECONNREFUSED' ? 'port unreachable (nothing listens there)' : err.message;
      finish(new DiagError('DNS', `query to ${joinHostPort(server, port)} over UDP failed: ${text}`, err));
    });
    // connect() makes the kernel report ICMP port unreachable as ECONNREFUSED instead of a silent timeout
    socket.connect(port, server, () => socket.send(wire));
  });
}

/** One framed query over TCP, or over TLS when `secure` is given (then sent once the handshake is done). */
function streamExchange(wire: Buffer, { server, port }: DnsQuery, timeoutMs: number, where: string, secure: DnsTlsOptions | undefined): Promise<Buffer> {
  const over = secure ? 'TLS' : 'TCP';
  return new Promise((resolve, reject) => {
    const socket = secure
      ? tls.connect({
          host: server,
          port,
          servername: secure.servername ?? (net.isIP(server) ? undefined : server),
          ca: secure.ca ? [...tls.rootCertificates, ...secure.ca] : undefined,
          ALPNProtocols: ['dot'],
          minVersion: 'TLSv1.2',
        })
      : net.connect({ host: server, port });
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (error: Error | undefined, value?: Buffer): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new DiagError('DNS', `no answer from ${where} over ${over} within ${timeoutMs} ms`)), timeoutMs);
    socket.on(secure ? 'secureConnect' : 'connect', () => {
      const framed = Buffer.alloc(2 + wire.length);
      framed.writeUInt16BE(wire.length, 0);
      wire.copy(framed, 2);
      socket.write(framed);
    });
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      length += chunk.length;
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length);
      if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) finish(undefined, all.subarray(2, 2 + all.readUInt16BE(0)));
    });
    socket.on('end', () => finish(new DiagError('DNS', `${where} closed the ${over} connection before answering`)));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const text = err.code === 'ECONNREFUSED' ? 'connection refused' : err.message;
      finish(new DiagError('DNS', `query to ${where} over ${over} failed: ${text}`, err));
    });
  });
}
