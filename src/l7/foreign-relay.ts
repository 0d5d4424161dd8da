// An HTTP/1.1 request whose route targets a pool that speaks HTTP/2 (protocol h2c, h2, grpc): the request
// is handed to deps.foreignUpstream (src/h2) as an exchange, and this relay is its downstream — it writes
// the response to the HTTP/1.1 connection (Content-Length kept, else chunked for HTTP/1.1 clients, else
// framed by close for HTTP/1.0), relays trailers as chunked trailers only when the client sent
// `TE: trailers`, and feeds the request body (de-chunked) to the upstream with backpressure both ways.
// Not the HTTP/1.1 proxy hot path: one relay object per such request, string heads.
import { EdgeError } from '../core/index.ts';
import type { ProxyExchange } from './exchange.ts';
import type { ExchangeDownstream, ExchangeHandle, ExchangeRequest, UpstreamPool } from './types.ts';
import type { ChunkSink } from './parse/chunked.ts';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, H_HOST, H_TRANSFER_ENCODING, H_UPGRADE, H_EXPECT } from './parse/request-head.ts';
import { bit } from './rewrite.ts';
import { upstreamTarget } from './router/actions.ts';
import { answerError } from './local-answers.ts';
import { CONTINUE_100 } from './local-response.ts';
import { reasonPhrase } from './reason.ts';
import { P_DONE, P_RESPONDING, P_ROUTING, P_WAITING } from './phases.ts';
import { FilteredDownstream, FlatWriter } from './filters/index.ts';
import { NO_RETRY } from './retry-policy.ts';

const HTTP2_PROTOCOLS: ReadonlySet<string> = new Set(['h2c', 'h2', 'grpc']);
/** Response fields that describe the HTTP/1.1 connection or framing: the relay writes its own. */
const RESPONSE_DROP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'trailer', 'content-length']);
const CRLF = Buffer.from('\r\n', 'latin1');

/** Whether `pool` speaks HTTP/2 upstream, so HTTP/1.1 requests to it need the foreign upstream. */
export function isForeignPool(pool: UpstreamPool): boolean {
  const protocol = pool.poolConfig?.protocol;
  return protocol !== undefined && HTTP2_PROTOCOLS.has(protocol);
}

/** The request's fields for the upstream: what the HTTP/1.1 upstream head would carry, as a flat list. */
function requestFields(ex: ProxyExchange): string[] {
  const head = ex.head;
  const raw = head.raw;
  const o = head.offsets;
  const drop = ex.rt.requestDropMask | bit(H_HOST) | bit(H_TRANSFER_ENCODING) | bit(H_UPGRADE) | bit(H_EXPECT);
  const tokens = head.connectionTokens;
  const fields: string[] = [];
  for (let i = 0; i < head.headerCount; i++) {
    if ((drop & (1 << head.kinds[i])) !== 0) continue;
    const name = raw.toString('latin1', o[i * 4], o[i * 4 + 1]).toLowerCase();
    if (name === 'te' || (tokens !== null && tokens.includes(name))) continue;
    fields.push(name, head.value(i));
  }
  if (head.bodyKind === BODY_LENGTH) fields.push('content-length', String(head.contentLength));
  // the upstream request filters: the built-ins (their removals were in the drop mask), then the route's
  const writer = new FlatWriter(fields);
  for (const name of ex.rt.upstreamDropNames ?? []) writer.remove(name);
  ex.rt.builtins.onUpstreamRequest(ex, writer);
  const filters = ex.route!.filters;
  if (filters !== null && filters.editsUpstream) filters.onUpstreamRequest(ex, writer);
  return fields;
}

function grpcStatusIn(fields: readonly string[]): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'grpc-status') return fields[i + 1];
  return undefined;
}

export class ForeignRelay implements ExchangeDownstream, ChunkSink {
  private readonly ex: ProxyExchange;
  private handle: ExchangeHandle | undefined;
  /** The same handle, kept after the exchange ends: its backend and tries go into the access line. */
  tries: ExchangeHandle | undefined;
  /** A gRPC call's grpc-status (from the trailers, or a trailers-only head) for the access line; '' for none. */
  grpcStatus = '';
  private headSent = false;
  private chunked = false;
  private noBody = false;
  private trailers = false;
  private reqRemaining: number;
  /** The response goes through the route's response filters first (FilteredDownstream). */
  private filtered = false;

  constructor(ex: ProxyExchange) {
    this.ex = ex;
    this.reqRemaining = ex.head.bodyKind === BODY_LENGTH ? ex.head.contentLength : 0;
  }

  /**
   * Hands the request to the foreign upstream; false when it does not serve this pool (the caller takes
   * the HTTP/1.1 path). buf[bs, be) are the bytes read after the head. Returns like ProxyExchange.start.
   */
  start(pool: UpstreamPool, buf: Buffer, bs: number, be: number): number | false {
    const ex = this.ex;
    const head = ex.head;
    const conn = ex.conn;
    const request: ExchangeRequest = {
      method: head.method,
      authority: head.authority,
      path: upstreamTarget(ex.action!, head.target, head.path),
      scheme: ex.rt.scheme,
      headers: requestFields(ex),
      peerAddress: conn.peer,
      contentLength: head.bodyKind === BODY_LENGTH ? head.contentLength : head.bodyKind === BODY_NONE ? 0 : -1,
    };
    // the upstream may answer at once (no backend): the exchange is in its waiting state before the call
    ex.foreign = this;
    ex.phase = P_WAITING;
    // response filters run in a wrapper: it removes the hidden fields before them (a filter may set one
    // again), then runs the built-ins' and the route's
    const filters = ex.route!.filters;
    const builtins = ex.rt.builtins;
    this.filtered = builtins.editsResponseFor(ex) || (filters !== null && (filters.editsResponse || filters.handlesFailure));
    const downstream: ExchangeDownstream = this.filtered
      ? new FilteredDownstream(this, filters, ex, { method: head.method, date: () => ex.rt.date.value(), backend: () => this.tries?.backend ?? '', hidden: ex.rt.hidden, builtins })
      : this;
    const handle = conn.listener.foreignUpstream!(pool, request, downstream, {
      upstreamHost: ex.action!.upstreamHost,
      balance: ex,
      retry: ex.rt.settingsFor(pool).retry ?? NO_RETRY,
      budget: conn.listener.retryBudget(pool.name),
      clock: conn.listener,
      tStart: ex.tStart,
      detail: conn.listener,
    });
    if (handle === undefined) {
      ex.foreign = null;
      ex.phase = P_ROUTING;
      return false;
    }
    if (ex.phase === P_DONE) return -1;
    this.handle = handle;
    this.tries = handle;
    this.trailers = head.header('te')?.toLowerCase().includes('trailers') === true;
    if (head.expectContinue && head.minor === 1 && !ex.reqDone) {
      ex.continueSent = true;
      ex.writeDown(CONTINUE_100);
    }
    if (ex.reqDone) {
      handle.bodyEnd();
      if (ex.phase === P_DONE) return -1;
      conn.setDeadline(ex.tryTimeout());
      conn.resumeReadingForPipeline();
      return bs;
    }
    conn.setDeadline(ex.rt.bodyTimeout);
    return this.requestBody(buf, bs, be);
  }

  /** Request body bytes in buf[s, e); returns how many belong to the body, -1 after answering an error. */
  requestBody(buf: Buffer, s: number, e: number): number {
    const ex = this.ex;
    let end: number;
    if (ex.head.bodyKind === BODY_CHUNKED) {
      const decoder = ex.conn.reqChunked;
      end = decoder.decode(buf, s, e, this);
      if (end < 0) return this.refuse(400);
      if (decoder.payload > ex.rt.maxBodySize) return this.refuse(413);
      if (decoder.done) ex.reqDone = true;
    } else {
      end = s + Math.min(e - s, this.reqRemaining);
      this.reqRemaining -= end - s;
      if (end > s) this.chunkData(buf, s, end);
      if (this.reqRemaining === 0) ex.reqDone = true;
    }
    ex.bytesIn += end - s;
    if (ex.phase === P_DONE) return -1;
    if (ex.reqDone) {
      this.handle?.bodyEnd();
      if (ex.phase === P_DONE) return -1;
      if (ex.phase === P_WAITING) ex.conn.setDeadline(ex.tryTimeout());
      if (ex.response.done) ex.finish();
    } else if (ex.phase === P_WAITING) ex.conn.setDeadline(ex.rt.bodyTimeout);
    return end;
  }

  /** ChunkSink (and the Content-Length path): a piece of request payload (in the shared read buffer: the handle copies it). */
  chunkData(buf: Buffer, start: number, end: number): void {
    if (end > start) this.handle?.bodyData(buf.subarray(start, end));
  }

  private refuse(status: number): number {
    this.abort();
    answerError(this.ex, status, 'cancelled');
    return -1;
  }

  // ---- ExchangeDownstream: called by the foreign upstream ----

  sendHead(status: number, headers: string[]): void {
    const ex = this.ex;
    if (ex.phase === P_DONE || this.headSent) return;
    this.headSent = true;
    ex.responding(status);
    this.grpcStatus = grpcStatusIn(headers) ?? '';
    ex.tFirstByte = ex.conn.listener.now();
    // filtered: the wrapper removed the hidden fields before the filters ran
    const hidden = this.filtered ? [] : ex.rt.hidden;
    this.noBody = ex.head.method === 'HEAD' || status === 204 || status === 304;
    let length = -1;
    for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === 'content-length') length = Number(headers[i + 1]);
    // the Trailer announcement stays only when the trailers will be relayed (chunked, client sent TE: trailers)
    const keepTrailer = this.trailers && length < 0 && !this.noBody && ex.head.minor === 1;
    let text = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i].toLowerCase();
      if ((RESPONSE_DROP.has(name) && !(keepTrailer && name === 'trailer')) || hidden.includes(name)) continue;
      text += `${name}: ${headers[i + 1].replace(/[\r\n]/g, '')}\r\n`;
    }
    if (length >= 0 && status !== 204) text += `content-length: ${length}\r\n`;
    else if (!this.noBody) {
      if (ex.head.minor === 1) {
        this.chunked = true;
        text += 'transfer-encoding: chunked\r\n';
      } else ex.closeAfter = true; // HTTP/1.0: the body ends with the connection
    }
    // an answer before the whole body: the client may never send the rest
    if (!ex.reqDone) ex.closeAfter = true;
    text += ex.rt.connectionLines(ex.willClose(), ex.keepAliveHeader()) + '\r\n';
    ex.writeDown(Buffer.from(text, 'latin1'));
    ex.conn.setDeadline(ex.rt.idleTimeout);
  }

  sendData(chunk: Buffer): boolean {
    const ex = this.ex;
    if (ex.phase !== P_RESPONDING || this.noBody || chunk.length === 0) return true;
    ex.bytesOut += chunk.length;
    ex.conn.setDeadline(ex.rt.idleTimeout);
    if (!this.chunked) return ex.conn.write(chunk);
    ex.conn.write(Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'));
    ex.conn.write(chunk);
    return ex.conn.write(CRLF);
  }

  end(trailers?: string[]): void {
    const ex = this.ex;
    if (ex.phase === P_DONE) return;
    if (trailers !== undefined) this.grpcStatus = grpcStatusIn(trailers) ?? this.grpcStatus;
    if (!this.headSent) {
      this.fail(new EdgeError('SY_ERR_UPSTREAM_RESPONSE', `pool ${ex.pool?.name}: upstream ended without a response`, { source: 'upstream', status: 502 }));
      return;
    }
    if (this.chunked) {
      let tail = '0\r\n';
      if (trailers !== undefined && this.trailers) {
        for (let i = 0; i < trailers.length; i += 2) tail += `${trailers[i]}: ${trailers[i + 1].replace(/[\r\n]/g, '')}\r\n`;
      }
      ex.writeDown(Buffer.from(tail + '\r\n', 'latin1'));
    }
    this.handle = undefined;
    if (!ex.reqDone) ex.closeAfter = true;
    ex.responseDone();
  }

  fail(error: EdgeError): void {
    const ex = this.ex;
    if (ex.phase === P_DONE) return;
    this.handle = undefined;
    const outcome = error.status === 504 ? 'timeout' : 'connect_error';
    if (!this.headSent) {
      answerError(ex, error.status >= 400 ? error.status : 502, outcome);
      return;
    }
    // the response started: the client sees it cut short
    ex.cutShort(outcome);
  }

  pauseBody(): void {
    this.ex.conn.pauseReading();
  }

  resumeBody(): void {
    if (!this.ex.reqDone) this.ex.conn.resumeReading();
  }

  // ---- from the HTTP/1.1 side ----

  /** The client's socket can take more: the upstream may send again. */
  drain(): void {
    this.handle?.drain();
  }

  /** The exchange ends without the upstream having finished (client gone, timeout, bad body). */
  abort(timedOut = false): void {
    const handle = this.handle;
    this.handle = undefined;
    handle?.abort(timedOut);
  }

  /** A deadline passed: 504 (or 408 for a stalled request body) when nothing was sent, else cut. */
  timedOut(): void {
    const ex = this.ex;
    // a stalled request body is the client's doing; a missed response deadline the upstream's
    this.abort(ex.reqDone && ex.phase !== P_RESPONDING);
    if (ex.phase === P_RESPONDING) {
      ex.cutShort('timeout');
      return;
    }
    if (!ex.reqDone) answerError(ex, 408, 'cancelled');
    else answerError(ex, 504, 'timeout');
  }
}
