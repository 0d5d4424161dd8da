// The request pipeline: CORS preflight → route → handler → reply, with every failure converted into a
// problem response. Every response carries X-Instance, X-Client-Address, Server-Timing and an access
// log line; nothing thrown by a handler reaches the socket.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { DbError } from '../db/index.ts';
import { RequestContext, type ContextDeps, type Reply } from './context.ts';
import type { CorsPolicy } from './cors.ts';
import { HttpProblem, problemDocument, type Headers } from './problem.ts';
import type { Router } from './router.ts';
import type { TrustedProxies } from './client-address.ts';

export interface PipelineOptions extends ContextDeps {
  instance: string;
  router: Router;
  cors: CorsPolicy;
  trustedProxies: TrustedProxies;
  log: Logger;
}

function replyFromError(err: unknown, ctx: RequestContext, log: Logger): Reply {
  // RFC 9457 `instance`: the request path identifies this occurrence well enough for a demo.
  const where = ctx.url.pathname;
  if (err instanceof HttpProblem) {
    const extra = { ...(err.code ? { code: err.code } : {}), ...err.extensions };
    return { status: err.status, headers: err.headers, body: problemDocument(err.status, err.message, where, extra) };
  }
  if (err instanceof DbError) {
    if (err.kind === 'conflict') {
      const detail = err.field ? `${err.field} already exists` : 'a unique value already exists';
      return { status: 409, body: problemDocument(409, detail, where, { code: 'conflict', ...(err.field ? { field: err.field } : {}) }) };
    }
    if (err.kind === 'missing_reference') {
      return { status: 409, body: problemDocument(409, 'a referenced record no longer exists', where, { code: 'missing_reference' }) };
    }
    log.warn({ err: err.message, path: where }, 'database unavailable');
    return {
      status: 503,
      headers: { 'retry-after': '1' },
      body: problemDocument(503, 'the database is unavailable or busy; try again shortly', where, { code: 'unavailable' }),
    };
  }
  // A bug or a broken schema: log the details, tell the client only that it failed.
  log.error({ err, path: where }, 'unhandled error');
  return { status: 500, body: problemDocument(500, 'internal error', where, { code: 'internal' }) };
}

function serverTiming(ctx: RequestContext): string {
  return `db;dur=${ctx.dbMs.toFixed(1)}, app;dur=${(performance.now() - ctx.startedAt).toFixed(1)}`;
}

export function createRequestHandler(options: PipelineOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { router, cors, trustedProxies, instance, log } = options;

  async function dispatch(ctx: RequestContext): Promise<Reply> {
    const origin = ctx.req.headers.origin;
    if (ctx.req.method === 'OPTIONS' && ctx.req.headers['access-control-request-method']) {
      return { status: 204, headers: cors.preflightHeaders(origin) };
    }
    const match = router.match(ctx.req.method ?? 'GET', ctx.url.pathname);
    if (match.kind === 'not_found') throw new HttpProblem(404, `no resource at ${ctx.url.pathname}`, { code: 'not_found' });
    if (match.kind === 'method_not_allowed') {
      throw new HttpProblem(405, `${ctx.req.method} is not allowed here`, { code: 'method_not_allowed', headers: { allow: match.allow.join(', ') } });
    }
    ctx.params = match.params;
    return match.handler(ctx);
  }

  function send(res: ServerResponse, ctx: RequestContext, reply: Reply): void {
    const headers: Headers = {
      ...cors.responseHeaders(ctx.req.headers.origin),
      vary: 'Origin',
      'cache-control': 'no-store',
      'x-instance': instance,
      'x-client-address': ctx.client,
      ...reply.headers,
      'server-timing': serverTiming(ctx),
    };
    let payload: string | undefined;
    if (reply.body !== undefined) {
      payload = JSON.stringify(reply.body);
      headers['content-type'] = reply.status >= 400 ? 'application/problem+json' : 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    res.writeHead(reply.status, headers);
    res.end(payload);
    log.info(
      { method: ctx.req.method, path: ctx.url.pathname, status: reply.status, ms: Number((performance.now() - ctx.startedAt).toFixed(1)), client: ctx.client },
      'request',
    );
  }

  return (req, res) => {
    const forwardedFor = req.headers['x-forwarded-for'];
    const client = trustedProxies.clientAddress(req.socket.remoteAddress, Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor);
    const ctx = new RequestContext(req, client, options);
    dispatch(ctx)
      .catch((err: unknown) => replyFromError(err, ctx, log))
      .then((reply) => send(res, ctx, reply))
      .catch((err: unknown) => {
        // Writing the reply itself failed (socket gone): nothing left to tell the client.
        log.warn({ err: (err as Error).message }, 'reply failed');
        res.destroy();
      });
  };
}
