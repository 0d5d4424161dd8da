// An HTTP/2 stream as an L7 exchange: the request goes through the L7 core's router, forwarded headers,
// HTTP/1.1 upstream pools and access log (HttpListener.handleExchange); the response comes back through
// ExchangeDownstream, written to the stream with HTTP/2 flow control carried both ways.
import { constants, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { EdgeError } from '../core/index.ts';
import type { ExchangeDownstream, ExchangeHandle, ExchangeRequest } from '../l7/index.ts';
import { requestFieldsFromRaw, responseHeadersFromFlat } from './headers.ts';
import { grpcCodeForHttp, isGrpc, respondGrpcStatus } from './grpc.ts';
import type { StreamCloseListener, StreamContext } from './frontend.ts';

const waitOptions = { waitForTrailers: true };
const noWaitOptions = {};
const endOptions = { endStream: true };

function headerIn(flat: readonly string[], name: string): boolean {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return true;
  return false;
}

class StreamDownstream implements ExchangeDownstream, StreamCloseListener {
  private readonly stream: ServerHttp2Stream;
  private readonly context: StreamContext;
  private readonly grpc: boolean;
  private readonly extra: Readonly<Record<string, string>> | undefined;
  private trailers: OutgoingHttpHeaders | undefined;
  handle: ExchangeHandle | undefined;
  done = false;
  private waitsForTrailers = false;
  /** Body bytes still to come when the response has a content-length (and no trailers); -1 otherwise. */
  private remaining = -1;
  /** The stream was ended by the chunk that completed the body. */
  private ended = false;

  constructor(stream: ServerHttp2Stream, context: StreamContext, grpc: boolean, extra: Readonly<Record<string, string>> | undefined) {
    this.stream = stream;
    this.context = context;
    this.grpc = grpc;
    this.extra = extra;
  }

  sendHead(status: number, headers: string[]): void {
    if (this.stream.destroyed) return;
    // Trailers are possible only when the upstream announced them (Trailer header) or for gRPC; only then
    // is the stream kept open for them, since waiting costs one more (empty) DATA frame per response.
    let trailers = this.grpc;
    let length = -1;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i] === 'trailer') trailers = true;
      else if (headers[i] === 'content-length') length = Number(headers[i + 1]);
    }
    if (this.grpc && headerIn(headers, 'grpc-status')) {
      // a gRPC head that carries the status is the trailers-only form: one HEADERS frame with END_STREAM;
      // the response is complete, so the stream's close is no abort
      this.ended = true;
      this.done = true;
      this.stream.respond(responseHeadersFromFlat(status, headers, this.extra), endOptions);
      return;
    }
    this.waitsForTrailers = trailers;
    // with a known length, the chunk that completes the body ends the stream in the same call (one
    // DATA frame with END_STREAM, one pass through the stream's writable instead of write + end)
    this.remaining = !trailers && Number.isSafeInteger(length) ? length : -1;
    if (trailers) this.stream.once('wantTrailers', () => this.stream.sendTrailers(this.trailers ?? {}));
    this.stream.respond(responseHeadersFromFlat(status, headers, this.extra), trailers ? waitOptions : noWaitOptions);
  }

  sendData(chunk: Buffer): boolean {
    if (this.stream.destroyed || this.ended) return true;
    if (this.remaining > 0) {
      this.remaining -= chunk.length;
      if (this.remaining <= 0) {
        this.ended = true;
        this.stream.end(chunk);
        return true;
      }
    }
    if (this.stream.write(chunk)) return true;
    // listened for only when needed: most responses never fill the stream's window
    this.stream.once('drain', () => this.handle?.drain());
    return false;
  }

  /** The stream closed (answered, reset by either side): an exchange still running is aborted. */
  streamClosed(): void {
    if (!this.done) this.handle?.abort();
  }

  end(trailers?: string[]): void {
    this.done = true;
    if (this.stream.destroyed) return;
    if (trailers && trailers.length > 0 && this.waitsForTrailers) {
      const out: OutgoingHttpHeaders = {};
      for (let i = 0; i < trailers.length; i += 2) out[trailers[i].toLowerCase()] = trailers[i + 1];
      this.trailers = out;
    }
    if (!this.stream.headersSent) this.stream.respond({ ':status': 502 }, { endStream: true });
    else if (!this.ended) this.stream.end();
  }

  fail(error: EdgeError): void {
    this.done = true;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    if (stream.headersSent) {
      this.context.reset(stream, constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (this.grpc) {
      respondGrpcStatus(stream, grpcCodeForHttp(error.status), error.message);
      return;
    }
    stream.respond({ ':status': error.status, 'content-type': 'text/plain; charset=utf-8', ...this.extra });
    stream.end(`${error.message}\n`);
  }

  pauseBody(): void {
    this.stream.pause();
  }

  resumeBody(): void {
    this.stream.resume();
  }
}

/**
 * Hands one stream to `exchange` (the listener's dispatch: the L7 core, or the HTTP/2 upstream core for
 * routes to HTTP/2 pools); the stream is owned by the exchange from here on. Returns what the frontend
 * tells of the stream's close.
 */
export function exchangeStream(
  exchange: (request: ExchangeRequest, downstream: ExchangeDownstream) => ExchangeHandle,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
  context: StreamContext,
  responseExtra: Readonly<Record<string, string>> | undefined,
): StreamCloseListener {
  const { fields, contentLength } = requestFieldsFromRaw(rawHeaders);
  const ended = stream.endAfterHeaders;
  const request: ExchangeRequest = {
    method: String(headers[':method']),
    authority: String(headers[':authority'] ?? headers.host ?? ''),
    path: String(headers[':path'] ?? '/'),
    scheme: context.encrypted ? 'https' : 'http',
    headers: fields,
    peerAddress: context.peerAddress,
    contentLength: ended ? 0 : contentLength === 0 ? -1 : contentLength, // as the codec's frontend: only END_STREAM ends a body
    tAccepted: context.tAccepted,
    tTls: context.tTls,
  };
  context.tAccepted = context.tTls = 0;
  const downstream = new StreamDownstream(stream, context, isGrpc(headers['content-type']), responseExtra);
  const handle = exchange(request, downstream);
  downstream.handle = handle;
  if (!ended) {
    stream.on('data', (chunk: Buffer) => handle.bodyData(chunk));
    stream.on('end', () => handle.bodyEnd());
  }
  return downstream;
}
