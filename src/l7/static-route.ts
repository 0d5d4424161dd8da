// The `static` route action on the HTTP/1.1 path. A file the open-file cache knows is answered at once
// with the bytes its view built for this second (a hit allocates nothing but the request's lookup
// object); otherwise the StaticFiles responder resolves it (async file system I/O), then the head is
// written and the file streamed with backpressure.
import type { Readable } from 'node:stream';
import type { ProxyExchange } from './exchange.ts';
import type { StaticAction } from './router/actions.ts';
import type { StaticFiles, StaticRequest, StaticResponse, StaticView } from './responders/static-files.ts';
import { upstreamTarget } from './router/actions.ts';
import { reasonPhrase } from './reason.ts';
import { P_DONE } from './phases.ts';

export function serveStatic(ex: ProxyExchange, action: StaticAction): void {
  const head = ex.head;
  const target = upstreamTarget(action, head.target, head.path);
  const q = target.indexOf('?');
  const files = ex.rt.staticFor(action);
  const request: StaticRequest = {
    method: head.method,
    path: q < 0 ? target : target.slice(0, q),
    ifNoneMatch: head.header('if-none-match'),
    ifModifiedSince: head.header('if-modified-since'),
    range: head.header('range'),
    acceptEncoding: head.header('accept-encoding'),
  };
  const view = files.cached(request);
  if (view !== undefined) {
    sendCached(ex, files, view, request);
    return;
  }
  files
    .serve(request)
    .then(
      (response) => send(ex, response),
      () => send(ex, { status: 500, headers: ['date', ex.rt.date.value(), 'content-type', 'text/plain; charset=utf-8', 'content-length', '22'], body: Buffer.from('500 internal server error\n'.slice(0, 22)) }),
    );
}

/** A known file: its prebuilt answer (with the bytes when they are in memory), else its head and a stream from the kept descriptor. */
function sendCached(ex: ProxyExchange, files: StaticFiles, view: StaticView, request: StaticRequest): void {
  const notModified = view.notModified(request.ifNoneMatch, request.ifModifiedSince);
  const isHead = request.method === 'HEAD';
  const out = view.wire(notModified, files.date, ex.rt.connectionLines(ex.willClose(), ex.keepAliveHeader()), isHead);
  const status = notModified ? 304 : 200;
  if (notModified || isHead || view.file.body !== null || view.file.size === 0) return ex.answerWhole(status, out);
  ex.responding(status);
  ex.writeDown(out);
  stream(ex, files.stream(view, 0, view.file.size - 1));
}

function send(ex: ProxyExchange, response: StaticResponse): void {
  const body = response.body;
  if (ex.phase === P_DONE) {
    // the client left while the file system answered
    if (body !== null && !Buffer.isBuffer(body)) body.destroy();
    return;
  }
  let text = `HTTP/1.1 ${response.status} ${reasonPhrase(response.status)}\r\n`;
  const h = response.headers;
  let hasLength = false;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i] === 'content-length') hasLength = true;
    text += `${h[i]}: ${h[i + 1]}\r\n`;
  }
  if (!hasLength && response.status !== 304) {
    text += `content-length: ${Buffer.isBuffer(body) ? body.length : 0}\r\n`;
  }
  text += ex.rt.connectionLines(ex.willClose(), ex.keepAliveHeader()) + '\r\n';
  const headBytes = Buffer.from(text, 'latin1');
  if (body === null || Buffer.isBuffer(body)) {
    ex.answerWhole(response.status, body === null || ex.head.method === 'HEAD' ? headBytes : Buffer.concat([headBytes, body]));
    return;
  }
  ex.responding(response.status);
  ex.writeDown(headBytes);
  stream(ex, body);
}

function stream(ex: ProxyExchange, body: Readable): void {
  ex.staticStream = body;
  body.on('data', (chunk: Buffer) => {
    if (!ex.writeDown(chunk)) body.pause();
    ex.conn.setDeadline(ex.rt.idleTimeout);
  });
  body.on('end', () => {
    ex.staticStream = null;
    ex.responseDone();
  });
  body.on('error', () => {
    // the file went away mid-response: the client sees a truncated body
    ex.staticStream = null;
    ex.finish();
    ex.conn.destroy();
  });
}
