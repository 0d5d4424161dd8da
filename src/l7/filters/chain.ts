// A route's filters in run order (the listener's `middleware` first, then the route's), built once per
// compiled route. Each phase keeps only the filters that have its hook, so a phase no filter uses costs a
// length check, and a route without middleware has no chain at all (CompiledRoute.filters is null).
// When the request carries a FilterContext.filterTimes array, each filter's request-phase (onRequest, until
// its promise settles; onUpstreamRequest) and response-phase (onResponse) times go into it, at the filter's place in `names`:
// one clock reading per filter and phase (plus one per phase) into a preallocated slot (the dashboard's
// waterfall draws them). A body transform (compression, a cache store) is timed from its first byte in
// to its last byte out, through a small wrapper made only when a filter transforms the body (which
// allocates its own stream state anyway).
import type { MiddlewareConfig } from '../../config/index.ts';
import type { BodySink, BodyTransform, FilterContext, FilterEnv, FilterFactory, HeaderWriter, HttpFilter, LocalResponse, RequestVerdict, ResponseVerdict, ResponseView } from './types.ts';
import { FlatWriter } from './writers.ts';
import { FILTER_TIMES, T_BODY_END, T_BODY_START, T_REQUEST_END, T_REQUEST_START, T_RESPONSE_END, T_RESPONSE_START, T_UPSTREAM_END, T_UPSTREAM_START } from '../../core/index.ts';

export class FilterChain {
  /** The filter names in run order (for `switchyard check` and traces). */
  readonly names: readonly string[];
  /** The largest `readsBody` of the request filters: body bytes read before they run (0: none). */
  readonly bodyPrefix: number;
  private readonly request: readonly HttpFilter[];
  /**
   * Per request filter (same index as `request`): the response filters declared before it. They saw the
   * request, so they see its local answer too (a `headers` removal, CORS fields on a 401 or 429, rate-limit
   * fields on a cache hit), as they would see an upstream's response; the filters after it never ran.
   */
  private readonly answeredThrough: readonly (readonly HttpFilter[])[];
  /** Their places in `names` (their response slots in a filterTimes array). */
  private readonly answeredThroughAt: readonly (readonly number[])[];
  private readonly upstream: readonly HttpFilter[];
  private readonly response: readonly HttpFilter[];
  private readonly failure: readonly HttpFilter[];
  /** Where each request / response filter stands in `names` (its slot in a filterTimes array). */
  private readonly requestAt: readonly number[];
  private readonly responseAt: readonly number[];
  private readonly upstreamAt: readonly number[];
  /** Monotonic ms: the listener's clock (FilterEnv.now), the one the request's other times are on. */
  private readonly now: () => number;

  constructor(filters: readonly HttpFilter[], now: () => number = () => performance.now()) {
    this.names = filters.map((filter) => filter.name);
    this.now = now;
    this.requestAt = filters.flatMap((filter, i) => (filter.onRequest !== undefined ? [i] : []));
    this.responseAt = filters.flatMap((filter, i) => (filter.onResponse !== undefined ? [i] : []));
    this.upstreamAt = filters.flatMap((filter, i) => (filter.onUpstreamRequest !== undefined ? [i] : []));
    this.request = filters.filter((filter) => filter.onRequest !== undefined);
    this.answeredThrough = this.request.map((filter) => filters.slice(0, filters.indexOf(filter)).filter((earlier) => earlier.onResponse !== undefined));
    this.answeredThroughAt = this.answeredThrough.map((earlier) => earlier.map((filter) => filters.indexOf(filter)));
    this.upstream = filters.filter((filter) => filter.onUpstreamRequest !== undefined);
    this.response = filters.filter((filter) => filter.onResponse !== undefined);
    this.failure = filters.filter((filter) => filter.onUpstreamFailure !== undefined);
    this.bodyPrefix = Math.max(0, ...this.request.map((filter) => filter.readsBody ?? 0));
  }

  /** Some filter edits the upstream request head: the path builds a writer for it. */
  get editsUpstream(): boolean {
    return this.upstream.length > 0;
  }

  /** Some filter sees the response head (and may edit it, transform the body or replace the response). */
  get editsResponse(): boolean {
    return this.response.length > 0;
  }

  /** Some filter may answer for a failed upstream (onUpstreamFailure). */
  get handlesFailure(): boolean {
    return this.failure.length > 0;
  }

  /** No upstream response came: the first filter that answers instead of the edge's `status` wins. */
  onUpstreamFailure(ctx: FilterContext, status: number): LocalResponse | undefined {
    const filters = this.failure;
    for (let i = 0; i < filters.length; i++) {
      const answer = filters[i].onUpstreamFailure!(ctx, status);
      if (answer !== undefined) return answer;
    }
    return undefined;
  }

  /**
   * "request filters": the first filter that answers wins, the ones after it do not run. Synchronous
   * while every filter answers synchronously; from the first promise on, the rest runs after it settles
   * and the result is a promise (a rejected one means the filter failed: the path answers 500).
   */
  onRequest(ctx: FilterContext): RequestVerdict | Promise<RequestVerdict> {
    return this.requestFrom(0, ctx);
  }

  private requestFrom(start: number, ctx: FilterContext): RequestVerdict | Promise<RequestVerdict> {
    const filters = this.request;
    const times = ctx.filterTimes ?? null;
    // one clock reading ends a filter and starts the next
    let t = times !== null ? this.now() : 0;
    for (let i = start; i < filters.length; i++) {
      const slot = this.requestAt[i] * FILTER_TIMES;
      if (times !== null) times[slot + T_REQUEST_START] = t;
      const answer = filters[i].onRequest!(ctx);
      if (answer !== undefined && isPromise(answer)) {
        return answer.then((settled) => {
          // read again: a request that ended meanwhile gave its array up (an HTTP/1.1 connection reuses it)
          const still = ctx.filterTimes ?? null;
          if (still !== null) still[slot + T_REQUEST_END] = this.now();
          return settled !== undefined ? this.answered(i, ctx, settled) : this.requestFrom(i + 1, ctx);
        });
      }
      if (times !== null) times[slot + T_REQUEST_END] = t = this.now();
      if (answer !== undefined) return this.answered(i, ctx, answer);
    }
    return undefined;
  }

  /** Request filter `i` answered: its answer through the response filters declared before it. */
  private answered(i: number, ctx: FilterContext, answer: LocalResponse): LocalResponse | Promise<LocalResponse> {
    const earlier = this.answeredThrough[i];
    return earlier.length === 0 ? answer : answerThrough(earlier, this.answeredThroughAt[i], ctx, answer, this.now);
  }

  /** "upstream request filters", in order. */
  onUpstreamRequest(ctx: FilterContext, head: HeaderWriter): void {
    const filters = this.upstream;
    const times = ctx.filterTimes ?? null;
    let t = times !== null ? this.now() : 0;
    for (let i = 0; i < filters.length; i++) {
      const slot = this.upstreamAt[i] * FILTER_TIMES;
      if (times !== null) times[slot + T_UPSTREAM_START] = t;
      filters[i].onUpstreamRequest!(ctx, head);
      if (times !== null) times[slot + T_UPSTREAM_END] = t = this.now();
    }
  }

  /**
   * "response filters", in order. Returns a LocalResponse when one replaced the upstream's response (the
   * later filters do not run), else the body transforms composed into one (first filter first), or
   * undefined when no filter transforms the body.
   */
  onResponse(ctx: FilterContext, head: HeaderWriter, response: ResponseView): ResponseVerdict {
    const filters = this.response;
    const times = ctx.filterTimes ?? null;
    let t = times !== null ? this.now() : 0;
    let transforms: BodyTransform[] | null = null;
    for (let i = 0; i < filters.length; i++) {
      const slot = this.responseAt[i] * FILTER_TIMES;
      if (times !== null) times[slot + T_RESPONSE_START] = t;
      const verdict = filters[i].onResponse!(ctx, head, response);
      if (times !== null) times[slot + T_RESPONSE_END] = t = this.now();
      if (verdict === undefined) continue;
      if (isLocal(verdict)) return verdict;
      (transforms ??= []).push(times !== null ? new TimedTransform(verdict, times, slot, this.now) : verdict);
    }
    if (transforms === null) return undefined;
    return transforms.length === 1 ? transforms[0] : new BodyPipeline(transforms);
  }
}

// the filterTimes layout (core/filter-times.ts), re-exported for the pipeline's modules
export { FILTER_TIMES, T_REQUEST_START, T_REQUEST_END, T_UPSTREAM_START, T_UPSTREAM_END, T_RESPONSE_START, T_RESPONSE_END, T_BODY_START, T_BODY_END } from '../../core/index.ts';

/**
 * A filter's body transform with its times: T_BODY_START at the first chunk (or the end of an empty
 * body) in, T_BODY_END when it ends its output, written before the next stage hears of the end (so the
 * request's access record, written at that end, has it). After an abort nothing is written: an HTTP/1.1
 * connection's array may already hold its next request's times.
 */
class TimedTransform implements BodyTransform {
  readonly keepsLength: boolean;
  private readonly inner: BodyTransform;
  private readonly times: Float64Array;
  private readonly slot: number;
  private readonly now: () => number;

  constructor(inner: BodyTransform, times: Float64Array, slot: number, now: () => number) {
    this.inner = inner;
    this.keepsLength = inner.keepsLength;
    this.times = times;
    this.slot = slot;
    this.now = now;
  }

  open(next: BodySink): BodySink & { abort?(): void } {
    const { times, now } = this;
    const start = this.slot + T_BODY_START;
    const end = this.slot + T_BODY_END;
    let live = true;
    const timed: BodySink = {
      write: (chunk) => next.write(chunk),
      end: () => {
        if (live) times[end] = now();
        live = false;
        next.end();
      },
    };
    // a transform that outruns the client asks the path to hold the upstream: the timing must not hide that
    if (next.hold !== undefined) timed.hold = () => next.hold!();
    if (next.release !== undefined) timed.release = () => next.release!();
    const input = this.inner.open(timed);
    return {
      write: (chunk) => {
        if (live && times[start] === 0) times[start] = now();
        input.write(chunk);
      },
      end: () => {
        if (live && times[start] === 0) times[start] = now();
        input.end();
      },
      abort: () => {
        live = false;
        input.abort?.();
      },
    };
  }
}

/**
 * A local answer through response filters: their head edits apply to its fields; body transforms
 * (compression) run over its whole body, so the answer is ready when the last one ends (a promise: zlib
 * works off the thread); a filter that replaces the answer (not expected here) wins as on the upstream path.
 */
function answerThrough(filters: readonly HttpFilter[], at: readonly number[], ctx: FilterContext, answer: LocalResponse, now: () => number): LocalResponse | Promise<LocalResponse> {
  const fields = answer.headers.slice();
  const writer = new FlatWriter(fields);
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
  const view = new LocalAnswerView(answer.status, answer.headers, body.length);
  const times = ctx.filterTimes ?? null;
  let t = times !== null ? now() : 0;
  let transforms: BodyTransform[] | null = null;
  for (let i = 0; i < filters.length; i++) {
    const slot = at[i] * FILTER_TIMES;
    if (times !== null) times[slot + T_RESPONSE_START] = t;
    const verdict = filters[i].onResponse!(ctx, writer, view);
    if (times !== null) times[slot + T_RESPONSE_END] = t = now();
    if (verdict === undefined) continue;
    if (isLocal(verdict)) return verdict;
    (transforms ??= []).push(times !== null ? new TimedTransform(verdict, times, slot, now) : verdict);
  }
  if (transforms === null) return { status: answer.status, headers: fields, body: answer.body };
  // the path counts the new body's length itself
  writer.remove('content-length');
  const pipeline = transforms.length === 1 ? transforms[0] : new BodyPipeline(transforms);
  return new Promise<LocalResponse>((resolve) => {
    const out: Buffer[] = [];
    const input = pipeline.open({ write: (chunk) => void out.push(chunk), end: () => resolve({ status: answer.status, headers: fields, body: Buffer.concat(out) }) });
    if (body.length > 0) input.write(body);
    input.end();
  });
}

/** A local answer as response filters see an upstream's response (its length as Content-Length, no backend). */
class LocalAnswerView implements ResponseView {
  readonly status: number;
  readonly backend = '';
  readonly local = true;
  private readonly headers: readonly string[];
  private readonly length: number;

  constructor(status: number, headers: readonly string[], length: number) {
    this.status = status;
    this.headers = headers;
    this.length = length;
  }

  header(name: string): string | undefined {
    const headers = this.headers;
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
    return name === 'content-length' && this.status !== 304 && this.status !== 204 ? String(this.length) : undefined;
  }

  fields(): string[] {
    return this.headers.slice();
  }
}

function isPromise(value: RequestVerdict | Promise<RequestVerdict>): value is Promise<RequestVerdict> {
  return typeof (value as Promise<RequestVerdict>).then === 'function';
}

/** Tells a replacing answer from a body transform (the two shapes of a response verdict). */
export function isLocal(verdict: BodyTransform | LocalResponse): verdict is LocalResponse {
  return (verdict as LocalResponse).status !== undefined;
}

/** Several transforms as one: the upstream's bytes enter the first, the last one writes to the path's sink. */
class BodyPipeline implements BodyTransform {
  readonly keepsLength: boolean;
  private readonly transforms: readonly BodyTransform[];

  constructor(transforms: readonly BodyTransform[]) {
    this.transforms = transforms;
    this.keepsLength = transforms.every((transform) => transform.keepsLength);
  }

  open(next: BodySink): BodySink & { abort?(): void } {
    const sinks: (BodySink & { abort?(): void })[] = [];
    let sink: BodySink = next;
    for (let i = this.transforms.length - 1; i >= 0; i--) {
      const opened = this.transforms[i].open(sink);
      sinks.push(opened);
      // a stage's own sink does not offer hold/release: the path's are passed through it, so a compressor
      // ahead of another transform still stops the upstream when its backlog is full
      sink = opened.hold !== undefined || next.hold === undefined ? opened : withBackpressure(opened, next);
    }
    const first = sink as BodySink & { abort?(): void };
    return {
      write: (chunk) => first.write(chunk),
      end: () => first.end(),
      // every stage hears of the cut, not only the first: each may hold state of its own (a cache entry)
      abort: () => {
        for (const stage of sinks) stage.abort?.();
      },
    };
  }
}

/** `stage` as a sink whose hold/release are the path's (`path`). */
function withBackpressure(stage: BodySink & { abort?(): void }, path: BodySink): BodySink & { abort?(): void } {
  return {
    write: (chunk) => stage.write(chunk),
    end: () => stage.end(),
    abort: stage.abort === undefined ? undefined : () => stage.abort!(),
    hold: () => path.hold!(),
    release: () => path.release!(),
  };
}

/** What builds filters by name (builtinFilters() in index.ts, or a test's own). */
export type FilterRegistry = ReadonlyMap<string, FilterFactory>;

/**
 * The chain of a proxied route: `defaults` (the listener's middleware) then the route's own; null when both
 * are empty. Names were checked against the schema at load; one the registry lacks is a programming error.
 */
export function buildChain(registry: FilterRegistry, env: FilterEnv, defaults: MiddlewareConfig | undefined, own: MiddlewareConfig | undefined): FilterChain | null {
  const entries = [...(defaults ?? []), ...(own ?? [])];
  if (entries.length === 0) return null;
  return new FilterChain(
    entries.map((entry) => {
      const factory = registry.get(entry.name);
      if (factory === undefined) throw new Error(`l7 filters: no filter registered as ${entry.name} (known: ${[...registry.keys()].join(', ')})`);
      return (factory as FilterFactory<typeof entry.name>).create(entry.settings, env);
    }),
    env.now,
  );
}
