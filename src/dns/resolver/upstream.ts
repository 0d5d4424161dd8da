// One query to one upstream server, the way a careful stub does it: a fresh UDP socket per query (the OS
// picks a random source port), a random 16-bit ID, and a response accepted only from the address queried,
// with our ID and our question (RFC 5452). A truncated answer is retried over TCP.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import { Flag, RRClass } from '../wire/constants.ts';
import { keyOf, wireToText } from '../wire/name.ts';
import { MessageWriter } from '../wire/writer.ts';
import { decodeMessage, type DecodedMessage } from './message.ts';

export interface UpstreamServer {
  host: string;
  port: number;
}

export class UpstreamError extends Error {}

export interface UpstreamQuery {
  name: Buffer;
  type: number;
  /** Ask the server to recurse (forwarding) or not (iterative). */
  recursionDesired: boolean;
  timeout: number;
}

function encodeQuery(id: number, query: UpstreamQuery): Buffer {
  const writer = new MessageWriter();
  writer.header(id, query.recursionDesired ? Flag.RD : 0, 1, 0, 0, 1);
  writer.question(query.name, query.type, RRClass.IN);
  writer.opt(1232);
  return writer.finish();
}

function matches(response: DecodedMessage, id: number, query: UpstreamQuery): boolean {
  const question = response.question;
  return (
    response.id === id &&
    (response.flags & Flag.QR) !== 0 &&
    question !== undefined &&
    question.type === query.type &&
    question.class === RRClass.IN &&
    keyOf(question.name) === keyOf(query.name)
  );
}

/** `switchyard:dns:upstream` events ({ server, name, type }): the walk an iterative resolution takes. */
const upstreamChannel = diagnostics.channel('switchyard:dns:upstream');

export async function queryUpstream(server: UpstreamServer, query: UpstreamQuery): Promise<DecodedMessage> {
  if (upstreamChannel.hasSubscribers) upstreamChannel.publish({ server: `${server.host}:${server.port}`, name: wireToText(query.name), type: query.type });
  const response = await queryUdp(server, query);
  if ((response.flags & Flag.TC) === 0) return response;
  return queryTcp(server, query);
}

function queryUdp(server: UpstreamServer, query: UpstreamQuery): Promise<DecodedMessage> {
  const id = randomInt(0, 65536);
  const message = encodeQuery(id, query);
  const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
  return new Promise<DecodedMessage>((resolve, reject) => {
    const finish = (error: Error | undefined, response?: DecodedMessage): void => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = setTimeout(() => finish(new UpstreamError(`resolver: ${server.host}:${server.port} timed out`)), query.timeout);
    socket.on('error', (err) => finish(new UpstreamError(`resolver: ${server.host}:${server.port}: ${err.message}`)));
    socket.on('message', (data, remote) => {
      if (remote.address !== server.host || remote.port !== server.port) return; // not from whom we asked
      const response = decodeMessage(data);
      if (response && matches(response, id, query)) finish(undefined, response);
      // anything else is ignored: a spoofed or stale answer must not end the wait
    });
    socket.send(message, server.port, server.host);
  });
}

function queryTcp(server: UpstreamServer, query: UpstreamQuery): Promise<DecodedMessage> {
  const id = randomInt(0, 65536);
  const message = encodeQuery(id, query);
  return new Promise<DecodedMessage>((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    const finish = (error: Error | undefined, response?: DecodedMessage): void => {
      socket.destroy();
      if (error) reject(error);
      else resolve(response!);
    };
    socket.setTimeout(query.timeout, () => finish(new UpstreamError(`resolver: ${server.host}:${server.port} timed out over tcp`)));
    socket.on('error', (err) => finish(new UpstreamError(`resolver: ${server.host}:${server.port}: ${err.message}`)));
    socket.on('connect', () => {
      const frame = Buffer.alloc(2 + message.length);
      frame.writeUInt16BE(message.length, 0);
      message.copy(frame, 2);
      socket.write(frame);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2 || received.length < 2 + received.readUInt16BE(0)) return;
      const response = decodeMessage(received.subarray(2, 2 + received.readUInt16BE(0)));
      if (response && matches(response, id, query)) finish(undefined, response);
      else finish(new UpstreamError(`resolver: ${server.host}:${server.port} sent a response that does not match the query`));
    });
    socket.on('end', () => finish(new UpstreamError(`resolver: ${server.host}:${server.port} closed the connection`)));
  });
}
