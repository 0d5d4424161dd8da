// The response filters for every path whose downstream is an ExchangeDownstream (the HTTP/2 codec, and
// the HTTP/1.1 relay of requests to HTTP/2 pools): a wrapper that runs the chain's onResponse on the head,
// then sends the head, the body through a transform, or a replacing answer. The HTTP/1.1→HTTP/1.1 path
// runs the same chain over its byte-level head instead (response-relay.ts).
import type { EdgeError } from '../../core/index.ts';
import type { ExchangeDownstream } from '../types.ts';
import type { FilterChain } from './chain.ts';
import { isLocal } from './chain.ts';
import { FlatWriter } from './writers.ts';
import { localResponseFields } from './local.ts';
import type { BodySink, FilterContext, LocalResponse, ResponseView } from './types.ts';
import type { BuiltinFilters } from './builtin/index.ts';

/** Flat upstream fields as a ResponseView (lower-case names). */
class FlatResponseView implements ResponseView {
  readonly status: number;
  private readonly list: readonly string[];
  private readonly backendOf: () => string;

  constructor(status: number, list: readonly string[], backendOf: () => string) {
    this.status = status;
    this.list = list;
    this.backendOf = backendOf;
  }

  get backend(): string {
    return this.backendOf();
  }

  header(name: string): string | undefined {
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) if (list[i] === name) return list[i + 1];
    return undefined;
  }

  fields(): string[] {
    return this.list.slice();
  }
}

export interface FilteredDownstreamOptions {
  /** The request method (a HEAD answer carries no body). */
  method: string;
  /** The Date value of answers made here (the listener's cached one). */
  date: () => string;
  /** The backend that answered ('' before one did). */
  backend: () => string;
  /** Field names removed before the filters see the head (the built-ins' responseRemoves); a filter may set them again. */
  hidden?: readonly string[];
  /** The listener's built-in filters: their response hooks run before the chain's. */
  builtins?: BuiltinFilters;
  /** A replacing answer's status, for the caller's access line. */
  replaced?: (status: number) => void;
  /**
   * The path's handle.drain() (resumes the upstream). Given, a transform whose input backlog is full (a
   * compressor behind the upstream) holds the upstream back until it has room; without it, it cannot.
   */
  resume?: () => void;
}

export class FilteredDownstream implements ExchangeDownstream {
  private readonly inner: ExchangeDownstream;
  private readonly chain: FilterChain | null;
  private readonly ctx: FilterContext | null;
  private readonly options: FilteredDownstreamOptions;
  /** The transform's input while a transformed body flows; null otherwise. */
  private sink: (BodySink & { abort?(): void }) | null = null;
  /** The upstream's response was replaced: its body and end are dropped. */
  private replaced = false;
  /** The inner downstream's backpressure, as last reported (a transform writes on its own schedule). */
  private writable = true;
  /** The transform asked for the upstream to wait (BodySink.hold) and has not released it yet. */
  private held = false;
  private trailers: string[] | undefined;
  private ended = false;
  /** A head went to the inner downstream (the upstream's, or a replacing answer). */
  private headSent = false;
  /** A body transform was opened and has not ended its output (nor been cut). */
  private transforming = false;
  /** Upstream body bytes a transform or a replacing answer took, and the bytes they sent instead. */
  private bodyIn = 0;
  private bodyOut = 0;
  /** afterBody's callback, while it waits for the transform's output to end. */
  private bodyDone: (() => void) | null = null;

  /** `chain` null: only the built-ins apply (a route without response filters). */
  constructor(inner: ExchangeDownstream, chain: FilterChain | null, ctx: FilterContext | null, options: FilteredDownstreamOptions) {
    this.inner = inner;
    this.chain = chain;
    this.ctx = ctx;
    this.options = options;
  }

  sendHead(status: number, headers: string[]): void {
    this.headSent = true;
    const writer = new FlatWriter(headers);
    for (const name of this.options.hidden ?? []) writer.remove(name);
    if (this.ctx === null) return this.inner.sendHead(status, headers);
    const builtins = this.options.builtins;
    const chain = this.chain !== null && this.chain.editsResponse ? this.chain : null;
    if (chain === null && (builtins === undefined || !builtins.editsResponseFor(this.ctx.edge))) return this.inner.sendHead(status, headers);
    const view = new FlatResponseView(status, headers, this.options.backend);
    if (builtins !== undefined && builtins.editsResponseFor(this.ctx.edge)) builtins.onResponse(this.ctx, writer, view);
    const verdict = chain?.onResponse(this.ctx, writer, view);
    if (verdict === undefined) return this.inner.sendHead(status, headers);
    if (isLocal(verdict)) return this.replace(verdict);
    if (!verdict.keepsLength) writer.remove('content-length');
    this.inner.sendHead(status, headers);
    this.transforming = true;
    const next: BodySink = {
      write: (chunk) => {
        if (this.ended) return;
        this.bodyOut += chunk.length;
        this.writable = this.inner.sendData(chunk);
      },
      end: () => {
        if (this.ended) return;
        this.ended = true;
        this.transformed();
        this.inner.end(this.trailers);
      },
    };
    const resume = this.options.resume;
    if (resume !== undefined) {
      // sendData answers false while held, so the path pauses the upstream; release resumes it
      next.hold = () => {
        this.held = true;
      };
      next.release = () => {
        this.held = false;
        if (this.writable && !this.ended) resume();
      };
    }
    this.sink = verdict.open(next);
  }

  /**
   * Calls `done` once the response has gone through the filters, before the inner downstream hears of its
   * end: at once, unless a body transform is still producing output (zlib works off the thread, after the
   * upstream's end), then when that output ends or the response fails. The caller's access line is
   * written there, so its end time and the transform's times include the transform's tail.
   */
  afterBody(done: () => void): void {
    if (this.transforming) this.bodyDone = done;
    else done();
  }

  private transformed(): void {
    this.transforming = false;
    const done = this.bodyDone;
    this.bodyDone = null;
    done?.();
  }

  private replace(answer: LocalResponse): void {
    this.replaced = true;
    this.headSent = true;
    this.ended = true;
    this.options.replaced?.(answer.status);
    const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
    this.inner.sendHead(answer.status, localResponseFields(answer, this.options.date(), body.length));
    if (this.options.method !== 'HEAD' && body.length > 0) {
      this.bodyOut += body.length;
      this.inner.sendData(body);
    }
    this.inner.end();
  }

  /**
   * What the filters changed the body's size by (bytes sent downstream minus the upstream's body bytes
   * they took: a compressed body, a replacing answer), for the path's bytes_out; 0 when the body passed as is.
   */
  get bodyDelta(): number {
    return this.bodyOut - this.bodyIn;
  }

  sendData(chunk: Buffer): boolean {
    if (this.sink === null && !this.replaced) return this.inner.sendData(chunk);
    this.bodyIn += chunk.length;
    if (this.replaced) return true;
    // the path may reuse its buffer after return, and a transform may keep the chunk: give it its own
    this.sink!.write(Buffer.from(chunk));
    return this.writable && !this.held;
  }

  end(trailers?: string[]): void {
    if (this.replaced) return;
    if (this.sink === null) return this.inner.end(trailers);
    this.trailers = trailers;
    const sink = this.sink;
    this.sink = null;
    sink.end();
  }

  fail(error: EdgeError): void {
    const sink = this.sink;
    this.sink = null;
    sink?.abort?.();
    if (this.transforming) this.transformed();
    if (this.replaced) return;
    // no upstream response came: a filter may answer instead of the edge's error (a cache's stale copy)
    const chain = this.chain;
    if (!this.headSent && chain !== null && this.ctx !== null && chain.handlesFailure && error.status >= 502 && error.status <= 504) {
      const answer = chain.onUpstreamFailure(this.ctx, error.status);
      if (answer !== undefined) return this.replace(answer);
    }
    this.ended = true;
    this.inner.fail(error);
  }

  pauseBody(): void {
    this.inner.pauseBody();
  }

  resumeBody(): void {
    this.inner.resumeBody();
  }
}
