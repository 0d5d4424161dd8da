// OTLP/HTTP JSON encoding of queued requests (an ExportTraceServiceRequest): one SERVER span per request
// (its id is the edge's span, the parent id of the traceparent sent upstream, so the origin's spans hang
// under it), an INTERNAL child per upstream phase the access record knows, and a CLIENT child per
// upstream attempt when the request was retried. Ids are lower-case hex and times decimal strings of
// nanoseconds since the epoch, as the OTLP JSON mapping requires. Runs off the request path.
import { randomFillSync } from 'node:crypto';
import type { QueuedRequest } from './request-ring.ts';

const KIND_INTERNAL = 1;
const KIND_SERVER = 2;
const KIND_CLIENT = 3;
const STATUS_ERROR = 2;

interface Attribute {
  key: string;
  value: { stringValue: string } | { intValue: string };
}

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attribute[];
  status?: { code: number; message?: string };
}

/** Epoch nanoseconds as a decimal string, exact past 2^53 (milliseconds and their fraction apart). */
export function unixNano(epochMs: number): string {
  const whole = Math.floor(epochMs);
  const fraction = Math.min(999_999, Math.round((epochMs - whole) * 1e6));
  return `${whole}${String(fraction).padStart(6, '0')}`;
}

const str = (key: string, value: string): Attribute => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): Attribute => ({ key, value: { intValue: String(value) } });

/** Fresh span ids for the children, drawn from one block of random bytes per batch. */
class SpanIds {
  private readonly block: Buffer;
  private at = 0;
  constructor(count: number) {
    this.block = Buffer.allocUnsafe(Math.max(1, count) * 8);
    randomFillSync(this.block);
  }
  next(): string {
    const start = this.at;
    this.at += 8;
    if (this.block.readBigUInt64BE(start) === 0n) this.block[start] = 1;
    return this.block.toString('hex', start, this.at);
  }
}

/** Spans of one request appended to `out`. */
function requestSpans(q: QueuedRequest, ids: SpanIds, out: Span[]): void {
  const at = (t: number): string => unixNano(q.wallOffset + t);
  const attributes = [str('http.request.method', q.method), str('url.path', q.path), str('server.address', q.host), int('http.response.status_code', q.status), str('network.peer.address', q.client), str('network.protocol.version', q.protocol === 'h2' ? '2' : '1.1')];
  if (q.route !== '') attributes.push(str('switchyard.route', q.route));
  if (q.pool !== '') attributes.push(str('switchyard.pool', q.pool));
  if (q.backend !== '') attributes.push(str('switchyard.backend', q.backend));
  if (q.attempts > 1) attributes.push(int('switchyard.attempts', q.attempts));
  const server: Span = { traceId: q.traceId, spanId: q.spanId, name: q.route === '' ? q.method : `${q.method} ${q.route}`, kind: KIND_SERVER, startTimeUnixNano: at(q.tStart), endTimeUnixNano: at(q.tEnd), attributes };
  if (q.parentSpanId !== '') server.parentSpanId = q.parentSpanId;
  if (q.status >= 500) server.status = { code: STATUS_ERROR };
  out.push(server);
  const child = (name: string, kind: number, from: number, to: number, extra: Attribute[]): Span => {
    const span: Span = { traceId: q.traceId, spanId: ids.next(), parentSpanId: q.spanId, name, kind, startTimeUnixNano: at(from), endTimeUnixNano: at(Math.max(from, to)), attributes: extra };
    out.push(span);
    return span;
  };
  // the upstream part starts when the request head was read (HTTP/1.1), else when the request started
  const upstreamFrom = q.tHead !== 0 ? q.tHead : q.tStart;
  const backend = q.backend === '' ? [] : [str('switchyard.backend', q.backend)];
  if (q.tConnected !== 0) child('upstream connect', KIND_INTERNAL, upstreamFrom, q.tConnected, backend);
  if (q.tFirstByte !== 0) {
    child('upstream wait', KIND_INTERNAL, q.tConnected !== 0 ? q.tConnected : upstreamFrom, q.tFirstByte, backend);
    child('upstream response', KIND_INTERNAL, q.tFirstByte, q.tEnd, backend);
  }
  if (q.attempts > 1) {
    // the record keeps no per-try times: failed tries span up to the last try's connect, the last try from there
    const lastFrom = q.tConnected !== 0 ? q.tConnected : upstreamFrom;
    for (let i = 0; i < q.tried.length; i++) {
      const span = child('upstream attempt', KIND_CLIENT, upstreamFrom, lastFrom, [str('switchyard.backend', q.tried[i]), int('switchyard.attempt', i + 1)]);
      span.status = { code: STATUS_ERROR, message: 'retried' };
    }
    child('upstream attempt', KIND_CLIENT, lastFrom, q.tEnd, [...backend, int('switchyard.attempt', q.tried.length + 1)]);
  }
}

/** Children a request can have at most: three phases, and one attempt per try. */
function childCount(q: QueuedRequest): number {
  return 3 + (q.attempts > 1 ? q.tried.length + 1 : 0);
}

export interface ResourceInfo {
  serviceName: string;
  instanceId: string;
  pid: number;
}

/** The request body of one export. */
export function encodeExport(requests: readonly QueuedRequest[], resource: ResourceInfo): { body: string; spans: number } {
  let children = 0;
  for (const q of requests) children += childCount(q);
  const ids = new SpanIds(children);
  const spans: Span[] = [];
  for (const q of requests) requestSpans(q, ids, spans);
  const body = JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [str('service.name', resource.serviceName), str('service.instance.id', resource.instanceId), int('process.pid', resource.pid)] },
        scopeSpans: [{ scope: { name: 'switchyard' }, spans }],
      },
    ],
  });
  return { body, spans: spans.length };
}
