// The `static` route action for requests that arrive through handleExchange (HTTP/2): the same
// StaticFiles responder as the HTTP/1.1 path, streamed to the codec with its backpressure contract
// (sendData returning false pauses the file until the codec calls drain()).
import type { Readable } from 'node:stream';
import type { ExchangeDownstream } from './types.ts';
import type { StaticFiles, StaticResponse } from './responders/static-files.ts';

export interface StaticBridgeRequest {
  method: string;
  /** Target path without the query, after strip_prefix / rewrite. */
  path: string;
  header(name: string): string | undefined;
}

/** What the bridge needs back: the status for its log, bytes sent, and when it is over. */
export interface StaticBridgeCallbacks {
  started(status: number): void;
  sent(bytes: number): void;
  finished(ok: boolean): void;
}

export class StaticBridge {
  private stream: Readable | null = null;
  private over = false;

  constructor(files: StaticFiles, request: StaticBridgeRequest, downstream: ExchangeDownstream, callbacks: StaticBridgeCallbacks) {
    files
      .serve({ method: request.method, path: request.path, ifNoneMatch: request.header('if-none-match'), ifModifiedSince: request.header('if-modified-since'), range: request.header('range'), acceptEncoding: request.header('accept-encoding') })
      .then(
        (response) => this.send(response, downstream, callbacks),
        () => this.send({ status: 500, headers: ['date', files.date.value(), 'content-type', 'text/plain; charset=utf-8'], body: Buffer.from('500 internal server error\n') }, downstream, callbacks),
      );
  }

  /** The codec can take data again. */
  resume(): void {
    this.stream?.resume();
  }

  /** The client left: stop reading the file. */
  abort(): void {
    this.over = true;
    this.stream?.destroy();
    this.stream = null;
  }

  private send(response: StaticResponse, downstream: ExchangeDownstream, callbacks: StaticBridgeCallbacks): void {
    const body = response.body;
    if (this.over) {
      if (body !== null && !Buffer.isBuffer(body)) body.destroy();
      return;
    }
    const headers = Buffer.isBuffer(body) && !response.headers.includes('content-length') ? [...response.headers, 'content-length', String(body.length)] : response.headers;
    callbacks.started(response.status);
    downstream.sendHead(response.status, headers);
    if (body === null || Buffer.isBuffer(body)) {
      if (body !== null && body.length > 0) {
        downstream.sendData(body);
        callbacks.sent(body.length);
      }
      this.over = true;
      callbacks.finished(true);
      return;
    }
    this.stream = body;
    body.on('data', (chunk: Buffer) => {
      callbacks.sent(chunk.length);
      if (!downstream.sendData(chunk)) body.pause();
    });
    body.once('end', () => {
      this.stream = null;
      this.over = true;
      callbacks.finished(true);
    });
    body.once('error', () => {
      this.stream = null;
      if (this.over) return;
      this.over = true;
      callbacks.finished(false);
    });
  }
}
