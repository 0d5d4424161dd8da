// `forward_auth` (nginx auth_request, Traefik ForwardAuth): each request first asks an auth service. The
// subrequest carries the original method, URI, host, client address and scheme in X-Forwarded-* fields
// and the chosen request fields (authorization and cookie by default). A 2xx lets the request go on,
// with `copy_headers` from the answer set on the upstream request; any other answer (401, 403, a 302 to
// a login page, a 5xx) goes back to the client with its status, a few of its fields and its body
// (bounded). An auth service that cannot be reached or does not answer in time gives 503: the request
// never goes on without a decision.
import type { Dispatcher, Pool } from 'undici';
import type { MiddlewareSettings } from '../../../config/index.ts';
import type { FilterContext, FilterEnv, FilterFactory, HeaderWriter, HttpFilter, LocalResponse, RequestVerdict } from '../types.ts';
import { authPool } from './auth-client.ts';

type ForwardAuthSettings = MiddlewareSettings['forward_auth'];

/** Fields of a refusal relayed to the client (the rest, framing and hop-by-hop ones included, are not). */
const RELAYED_ON_DENIAL = ['content-type', 'location', 'www-authenticate', 'set-cookie', 'cache-control', 'retry-after', 'vary'];

function failure(body: string): LocalResponse {
  return Object.freeze({ status: 503, headers: Object.freeze(['cache-control', 'no-store', 'retry-after', '5']), body });
}

const UNREACHABLE = failure('forward_auth: the auth service is unreachable\n');
const TIMED_OUT = failure('forward_auth: the auth service did not answer in time\n');

function isTimeout(err: unknown): boolean {
  const error = err as { name?: string; code?: string };
  return error.name === 'TimeoutError' || error.code === 'UND_ERR_HEADERS_TIMEOUT' || error.code === 'UND_ERR_BODY_TIMEOUT' || error.code === 'UND_ERR_CONNECT_TIMEOUT';
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The body of a refusal, up to `max` bytes; null when it is larger (it is then not relayed). */
async function boundedBody(body: Dispatcher.ResponseData['body'], max: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      return null;
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

function create(settings: ForwardAuthSettings, env: FilterEnv): HttpFilter {
  const url = new URL(settings.url);
  const target = url.pathname + url.search;
  const requestHeaders = settings.request_headers.filter((name) => !name.startsWith('x-forwarded-'));
  const copyHeaders = settings.copy_headers;
  const stats = env.stats('forward_auth');
  const timeout = settings.timeout;
  const maxBody = settings.max_body_size;
  let pool: Pool | null = null;
  let failing = false;

  const transition = (nowFailing: boolean, ctx: FilterContext, err?: unknown): void => {
    if (nowFailing === failing) return;
    failing = nowFailing;
    if (nowFailing) env.warn('forward_auth: auth service unavailable', { route: ctx.routeName, url: settings.url, error: (err as Error).message });
    else env.warn('forward_auth: auth service reachable again', { route: ctx.routeName, url: settings.url });
  };

  async function ask(ctx: FilterContext): Promise<RequestVerdict> {
    if (pool === null) {
      const undici = await import('undici');
      pool ??= authPool(settings, env, undici);
    }
    const headers: string[] = [
      'x-forwarded-method', ctx.method,
      'x-forwarded-uri', ctx.query === '' ? ctx.path : `${ctx.path}?${ctx.query}`,
      'x-forwarded-host', ctx.host,
      'x-forwarded-for', ctx.clientAddress,
      'x-forwarded-proto', ctx.scheme,
    ];
    for (const name of requestHeaders) {
      const value = ctx.header(name);
      if (value !== undefined) headers.push(name, value);
    }
    const started = env.now();
    let answer: Dispatcher.ResponseData;
    try {
      answer = await pool.request({ origin: url.origin, path: target, method: settings.method, headers, signal: AbortSignal.timeout(timeout) });
    } catch (err) {
      const timedOut = isTimeout(err);
      stats.count(timedOut ? 'timeout' : 'error');
      ctx.setReason(timedOut ? 'forward_auth:timeout' : 'forward_auth:unreachable');
      transition(true, ctx, err);
      return timedOut ? TIMED_OUT : UNREACHABLE;
    }
    transition(false, ctx);
    const { statusCode, headers: fields, body } = answer;
    if (statusCode >= 200 && statusCode < 300) {
      body.dump().catch(() => {});
      stats.observe('subrequest', (env.now() - started) / 1000);
      stats.count('allowed');
      if (copyHeaders.length > 0) {
        const copied: string[] = [];
        for (const name of copyHeaders) {
          const value = fields[name];
          if (value === undefined) continue;
          if (Array.isArray(value)) for (const one of value) copied.push(name, one);
          else copied.push(name, value);
        }
        if (copied.length > 0) ctx.stash(filter, copied);
      }
      return undefined;
    }
    let relayed: Buffer | null;
    try {
      relayed = await boundedBody(body, maxBody);
    } catch (err) {
      const timedOut = isTimeout(err);
      stats.count(timedOut ? 'timeout' : 'error');
      ctx.setReason(timedOut ? 'forward_auth:timeout' : 'forward_auth:unreachable');
      return timedOut ? TIMED_OUT : UNREACHABLE;
    }
    stats.observe('subrequest', (env.now() - started) / 1000);
    stats.count('denied');
    ctx.setReason('forward_auth:denied');
    const out: string[] = [];
    for (const name of RELAYED_ON_DENIAL) {
      const value = fields[name];
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const one of value) out.push(name, one);
      else out.push(name, value);
    }
    if (relayed === null) {
      // the body is not relayed: the content-type said what it was, not what goes out now
      const at = out.indexOf('content-type');
      if (at >= 0) out.splice(at, 2);
      return { status: statusCode, headers: out, body: `forward_auth: refused by the auth service (${statusCode})\n` };
    }
    if (firstValue(fields['content-type']) === undefined && relayed.length > 0) out.push('content-type', 'application/octet-stream');
    return { status: statusCode, headers: out, body: relayed };
  }

  const filter: { -readonly [K in keyof HttpFilter]: HttpFilter[K] } = {
    name: 'forward_auth',
    onRequest: ask,
  };
  if (copyHeaders.length > 0) {
    filter.onUpstreamRequest = (ctx: FilterContext, head: HeaderWriter) => {
      // the client's own fields of these names never reach the upstream, whatever the auth service said
      for (const name of copyHeaders) head.remove(name);
      const copied = ctx.stashed(filter) as string[] | undefined;
      if (copied !== undefined) for (let i = 0; i < copied.length; i += 2) head.add(copied[i], copied[i + 1]);
    };
  }
  return filter;
}

export const forwardAuthFilter = { name: 'forward_auth', create } satisfies FilterFactory<'forward_auth'>;
