// OTLP/HTTP JSON encoding of queued requests (an ExportTraceServiceRequest): one SERVER span per request
// (its id is the edge's span, the parent id of the traceparent sent upstream, so the origin's spans hang
// under it), an INTERNAL child per phase the access record knows — the TLS handshake of a connection's
// first request, each filter hook that ran, the upstream's connect, wait and response — and a CLIENT child
// per upstream attempt when the request was retried. `accept` (a new HTTP/1.1 connection's first request)
// runs from the accept, or the TLS handshake's end, to the request's first byte; `headers read` runs from the request's first byte to
// its head's end (HTTP/1.1; an HTTP/2 or HTTP/3 stream's HEADERS arrive whole: a point at its start), `pick` is the
// point where the last try's backend was chosen, with the policy and the candidates it considered. Ids are lower-case hex and times decimal strings of
// nanoseconds since the epoch, as the OTLP JSON mapping requires. Runs off the request path.
import { randomFillSync } from 'node:crypto';
import type { QueuedRequest } from './request-ring.ts';
import { candidatesLine } from '../pool/index.ts';
import { FILTER_TIMES, T_BODY_END, T_BODY_START, T_REQUEST_END, T_REQUEST_START, T_RESPONSE_END, T_RESPONSE_START, T_UPSTREAM_END, T_UPSTREAM_START } from '../core/index.ts';

const KIND_INTERNAL = 1;
const KIND_SERVER = 2;
const KIND_CLIENT = 3;

/** Epoch nanoseconds as a decimal string, exact past 2^53 (milliseconds and their fraction apart). */
export function unixNano(epochMs: number): string {
  const whole = Math.floor(epochMs);
  const fraction = Math.min(999_999, Math.round((epochMs - whole) * 1e6));
  return `${whole}${String(fraction).padStart(6, '0')}`;
}

// The JSON is written as text rather than built as objects for JSON.stringify (~6 µs instead of ~8 µs per
// request of four spans). Keys, ids and numbers are plain ASCII; request strings go through JSON.stringify
// for their escaping.
const str = (key: string, value: string): string => `{"key":"${key}","value":{"stringValue":${JSON.stringify(value)}}}`;
const int = (key: string, value: number): string => `{"key":"${key}","value":{"intValue":"${value}"}}`;
const ERROR = ',"status":{"code":2}';
const RETRIED = ',"status":{"code":2,"message":"retried"}';

/** One span object; `name` is already a JSON string, `parent` '' for none, `status` '' or ERROR/RETRIED. */
function span(traceId: string, spanId: string, parent: string, name: string, kind: number, start: string, end: string, attributes: string, status: string): string {
  const parentField = parent === '' ? '' : `,"parentSpanId":"${parent}"`;
  return `{"traceId":"${traceId}","spanId":"${spanId}"${parentField},"name":${name},"kind":${kind},"startTimeUnixNano":"${start}","endTimeUnixNano":"${end}","attributes":[${attributes}]${status}}`;
}

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

/** Spans of one request appended to `out`, each as JSON text. */
function requestSpans(q: QueuedRequest, ids: SpanIds, out: string[]): void {
  const at = (t: number): string => unixNano(q.wallOffset + t);
  const end = at(q.tEnd);
  let attributes = `${str('http.request.method', q.method)},${str('url.path', q.path)},${str('server.address', q.host)},${int('http.response.status_code', q.status)},${str('network.peer.address', q.client)},${str('network.protocol.version', q.protocol === 'h2' ? '2' : q.protocol === 'h3' ? '3' : '1.1')}`;
  if (q.route !== '') attributes += `,${str('switchyard.route', q.route)}`;
  if (q.pool !== '') attributes += `,${str('switchyard.pool', q.pool)}`;
  if (q.backend !== '') attributes += `,${str('switchyard.backend', q.backend)}`;
  if (q.attempts > 1) attributes += `,${int('switchyard.attempts', q.attempts)}`;
  const name = JSON.stringify(q.route === '' ? q.method : `${q.method} ${q.route}`);
  // the first request of a TLS connection begins at the TCP accept, as in the dashboard's waterfall
  const start = q.tAccepted !== 0 ? q.tAccepted : q.tStart;
  out.push(span(q.traceId, q.spanId, q.parentSpanId, name, KIND_SERVER, at(start), end, attributes, q.status >= 500 ? ERROR : ''));
  const child = (childName: string, kind: number, from: number, to: number, extra: string, status: string): void => {
    out.push(span(q.traceId, ids.next(), q.spanId, childName, kind, at(from), at(Math.max(from, to)), extra, status));
  };
  if (q.tAccepted !== 0 && q.tTls !== 0) child('"tls handshake"', KIND_INTERNAL, q.tAccepted, q.tTls, '', '');
  // the first request of an HTTP/1.1 connection: the accept (or the handshake's end) to its first byte
  if (q.tArrived !== 0) child('"accept"', KIND_INTERNAL, q.tStart, q.tArrived, '', '');
  if (q.tHead !== 0) child('"headers read"', KIND_INTERNAL, q.tArrived !== 0 ? q.tArrived : q.tStart, q.tHead, '', '');
  else if (q.protocol !== '') child('"headers read"', KIND_INTERNAL, q.tStart, q.tStart, '', '');
  filterSpans(q, child);
  pickSpan(q, child);
  // the upstream part starts when the last try picked its backend, else when the request head was read
  // (HTTP/1.1), else when the request started
  const upstreamFrom = q.tAttempt !== 0 ? q.tAttempt : q.tHead !== 0 ? q.tHead : q.tStart;
  const backend = q.backend === '' ? '' : str('switchyard.backend', q.backend);
  if (q.tConnected !== 0) child('"upstream connect"', KIND_INTERNAL, upstreamFrom, q.tConnected, backend, '');
  if (q.tFirstByte !== 0) {
    child('"upstream wait"', KIND_INTERNAL, q.tConnected !== 0 ? q.tConnected : upstreamFrom, q.tFirstByte, backend, '');
    child('"upstream response"', KIND_INTERNAL, q.tFirstByte, q.tEnd, backend, '');
  }
  if (q.attempts > 1) {
    if (q.earlier.length > 0) {
      // each failed try with its own times and why it failed, then the last one from its pick
      for (let i = 0; i < q.earlier.length; i++) {
        const e = q.earlier[i];
        child('"upstream attempt"', KIND_CLIENT, e.tPick, e.tEnd, `${str('switchyard.backend', e.backend)},${int('switchyard.attempt', i + 1)},${str('switchyard.outcome', e.outcome)}`, RETRIED);
      }
      child('"upstream attempt"', KIND_CLIENT, upstreamFrom, q.tEnd, `${backend === '' ? '' : `${backend},`}${int('switchyard.attempt', q.earlier.length + 1)}`, '');
      return;
    }
    // no per-try times recorded: failed tries span up to the last try's connect, the last try from there
    const lastFrom = q.tConnected !== 0 ? q.tConnected : upstreamFrom;
    for (let i = 0; i < q.tried.length; i++) child('"upstream attempt"', KIND_CLIENT, upstreamFrom, lastFrom, `${str('switchyard.backend', q.tried[i])},${int('switchyard.attempt', i + 1)}`, RETRIED);
    child('"upstream attempt"', KIND_CLIENT, lastFrom, q.tEnd, `${backend === '' ? '' : `${backend},`}${int('switchyard.attempt', q.tried.length + 1)}`, '');
  }
}

/**
 * The last pick as a point in time (its backend chosen; a pick that found no usable backend sits at the
 * head's end, with an error status): the pool's policy, the chosen backend and every candidate's state.
 */
function pickSpan(q: QueuedRequest, child: (name: string, kind: number, from: number, to: number, extra: string, status: string) => void): void {
  const pick = q.pick;
  if (q.tAttempt === 0 && pick === null) return;
  const at = q.tAttempt !== 0 ? q.tAttempt : q.tHead !== 0 ? q.tHead : q.tStart;
  let attributes = q.backend === '' ? '' : str('switchyard.backend', q.backend);
  if (pick !== null) {
    attributes += `${attributes === '' ? '' : ','}${str('switchyard.balance', pick.policy)},${str('switchyard.candidates', candidatesLine(pick))}`;
    if (pick.preferred) attributes += `,{"key":"switchyard.pick.preferred","value":{"boolValue":true}}`;
  }
  child('"pick"', KIND_INTERNAL, at, at, attributes, pick !== null && pick.chosen < 0 ? ERROR : '');
}

const FILTER_HOOKS: readonly [string, number, number][] = [
  ['request', T_REQUEST_START, T_REQUEST_END],
  ['upstream_request', T_UPSTREAM_START, T_UPSTREAM_END],
  ['response', T_RESPONSE_START, T_RESPONSE_END],
  ['body', T_BODY_START, T_BODY_END],
];

/** One INTERNAL span per filter hook that ran (`filter NAME`, with `switchyard.filter.phase`); an unsettled one ends with the request. */
function filterSpans(q: QueuedRequest, child: (name: string, kind: number, from: number, to: number, extra: string, status: string) => void): void {
  const names = q.filterNames;
  const times = q.filterTimes;
  if (names === null || times === null) return;
  for (let i = 0; i < names.length; i++) {
    const o = i * FILTER_TIMES;
    for (const [phase, startAt, endAt] of FILTER_HOOKS) {
      const from = times[o + startAt];
      if (from === 0) continue;
      const to = times[o + endAt];
      child(JSON.stringify(`filter ${names[i]}`), KIND_INTERNAL, from, to === 0 ? q.tEnd : to, str('switchyard.filter.phase', phase), '');
    }
  }
}

/** Children a request can have at most: TLS, accept, headers, pick, three phases, each filter's three hooks, and one attempt per try. */
function childCount(q: QueuedRequest): number {
  return 7 + (q.filterNames?.length ?? 0) * FILTER_HOOKS.length + (q.attempts > 1 ? Math.max(q.tried.length, q.earlier.length) + 1 : 0);
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
  const spans: string[] = [];
  for (const q of requests) requestSpans(q, ids, spans);
  const attributes = `${str('service.name', resource.serviceName)},${str('service.instance.id', resource.instanceId)},${int('process.pid', resource.pid)}`;
  const body = `{"resourceSpans":[{"resource":{"attributes":[${attributes}]},"scopeSpans":[{"scope":{"name":"switchyard"},"spans":[${spans.join(',')}]}]}]}`;
  return { body, spans: spans.length };
}
