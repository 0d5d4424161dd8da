// The TCP and HTTP steps of `switchyard trace`, timed at the events that mark them: connect, the request
// flushed to the kernel ('finish'), the first response byte on the socket, the end of the body.
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { DiagError, describeSocketError } from './errors.ts';
import { joinHostPort } from './format.ts';
import { nodeHttp } from '../core/index.ts';

export function connect(address: string, port: number, sockets: net.Socket[]): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port, noDelay: true });
    sockets.push(socket);
    socket.once('connect', () => resolve(socket));
    socket.once('error', (err) => reject(new DiagError('TCP', `connect to ${joinHostPort(address, port)} failed: ${describeSocketError(err)}`, err)));
  });
}

export interface Exchange {
  firstByteAt: number;
  sentAt: number;
  endAt: number;
  response: IncomingMessage;
  bodyBytes: number;
}

export function sendRequest(stream: net.Socket, method: string, target: string, headers: [string, string][]): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    let firstByteAt = 0;
    let sentAt = 0;
    stream.once('data', () => (firstByteAt = performance.now()));
    const request = nodeHttp.request({ createConnection: () => stream, method, path: target, setHost: false, headers: Object.fromEntries(headers) });
    request.once('finish', () => (sentAt = performance.now()));
    request.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.message === 'socket hang up' ? 'the server closed the connection without a response (socket hang up)' : describeSocketError(err);
      reject(new DiagError('HTTP', why, err));
    });
    request.once('response', (response) => {
      let bodyBytes = 0;
      response.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
      response.once('error', (err) => reject(new DiagError('HTTP', `response body: ${describeSocketError(err)}`, err)));
      response.once('end', () => resolve({ firstByteAt: firstByteAt || performance.now(), sentAt, endAt: performance.now(), response, bodyBytes }));
    });
    request.end();
  });
}
