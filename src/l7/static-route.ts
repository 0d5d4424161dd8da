// The `static` route action on the HTTP/1.1 path: asks the StaticFiles responder (async file system
// I/O), then writes its head and streams the file with backpressure. Not the proxy hot path, so it uses
// closures and string heads.
import type { Readable } from 'node:stream';
import type { ProxyExchange } from './exchange.ts';
import type { StaticAction } from './router/actions.ts';
import type { StaticResponse } from './responders/static-files.ts';
import { upstreamTarget } from './router/actions.ts';
import { reasonPhrase } from './reason.ts';
import { P_DONE, P_RESPONDING } from './phases.ts';

export function serveStatic(ex: ProxyExchange, action: StaticAction): void {
  const head = ex.head;
  const target = upstreamTarget(action, head.target, head.path);
  const q = target.indexOf('?');
  ex.rt
    .staticFor(action)
    .serve({
      method: head.method,
      path: q < 0 ? target : target.slice(0, q),
      ifNoneMatch: head.header('if-none-match'),
      ifModifiedSince: head.header('if-modified-since'),
      range: head.header('range'),
      acceptEncoding: head.header('accept-encoding'),
    })
    .then(
      (response) => send(ex, response),
      () => send(ex, { status: 500, headers: ['date', ex.rt.date.value(), 'content-type', 'text/plain; charset=utf-8', 'content-length', '22'], body: Buffer.from('500 internal server error\n'.slice(0, 22)) }),
    );
}

function send(ex: ProxyExchange, response: StaticResponse): void {
  const body = response.body;
  if (ex.phase === P_DONE) {
    // the client left while the file system answered
    if (body !== null && !Buffer.isBuffer(body)) body.destroy();
    return;
  }
  ex.status = response.status;
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
    const out = body === null || ex.head.method === 'HEAD' ? headBytes : Buffer.concat([headBytes, body]);
    ex.bytesOut += out.length;
    ex.conn.write(out);
    ex.resDone = true;
    ex.finish();
    return;
  }
  ex.phase = P_RESPONDING;
  ex.bytesOut += headBytes.length;
  ex.conn.write(headBytes);
  stream(ex, body);
}

function stream(ex: ProxyExchange, body: Readable): void {
  ex.staticStream = body;
  body.on('data', (chunk: Buffer) => {
    ex.bytesOut += chunk.length;
    if (!ex.conn.write(chunk)) body.pause();
    ex.conn.setDeadline(ex.rt.idleTimeout);
  });
  body.on('end', () => {
    ex.staticStream = null;
    ex.resDone = true;
    ex.finish();
  });
  body.on('error', () => {
    // the file went away mid-response: the client sees a truncated body
    ex.staticStream = null;
    ex.finish();
    ex.conn.destroy();
  });
}
