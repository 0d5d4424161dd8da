// The admin API: loopback by default, every endpoint but /healthz behind the bearer token (or the dashboard's
// session cookie: dashboard/dashboard.ts); HTTPS when admin.tls is set (required off loopback:
// config/addresses.ts). It reads components only through the
// AdminController the supervisor passes in (their status()), never their internals. node:http(s) is fine
// here: this is not the data path.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Component, Logger } from '../core/index.ts';
import { messageOf, nodeHttp } from '../core/index.ts';
import { Dashboard } from './dashboard/index.ts';
import { tokenMatches } from './token.ts';

export interface ReloadResult {
  ok: boolean;
  error?: string;
  /** The config file the edge runs after a successful reload. */
  config?: string;
}

/** What the admin API may ask of the running edge. */
export interface AdminController {
  /** False while shutting down: the edge's own health for an outer load balancer. */
  healthy(): boolean;
  status(): Promise<unknown>;
  pools(): Promise<unknown>;
  /** Sets a backend draining (or back to serving); false when pool or backend is unknown. */
  setDraining(pool: string, backend: string, draining: boolean): Promise<boolean>;
  /** Drops response-cache entries (the `cache` filter) for one URL or every URL under a prefix; the count dropped. */
  purgeCache(target: { url?: string; prefix?: string }): Promise<number>;
  /** Reloads the edge's config file, or `file` (absolute), which from then on is the edge's config. */
  reload(file?: string): Promise<ReloadResult>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Recent requests over the traffic processes, newest first (GET /api/requests; src/telemetry recent-requests.ts). */
  requests(query: { status?: string; route?: string; pool?: string; backend?: string; limit?: number }): Promise<unknown>;
  /** The dashboard's charts and timeline (GET /api/history): per-pool points over 15 minutes, health and ejection events. */
  history(): Promise<unknown>;
  /** The dashboard's DNS panel (GET /api/dns). */
  dns(): Promise<unknown>;
  /** What the edge would do with one request (GET /api/explain); sends nothing upstream. */
  explain(query: { method: string; url: string; headers: [string, string][]; listener?: string; clientAddress?: string }): Promise<unknown>;
}

export interface AdminServerOptions {
  host: string;
  port: number;
  token: string;
  /** Serve HTTPS with this certificate and key (absolute PEM file paths, read at start). */
  tls?: { certFile: string; keyFile: string; minVersion: 'TLSv1.2' | 'TLSv1.3' };
  controller: AdminController;
  logger: Logger;
}

/** A request body of at most 64 KiB (the admin API takes small JSON only). */
async function readSmallBody(request: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of request) {
    text += chunk;
    if (text.length > 65_536) throw new Error('admin: request body too large');
  }
  return text;
}

const json = (response: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body, null, 2);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  response.end(text);
};

const maxRequests = 1000;

/** GET /api/requests' query (status=404|5xx|error, route=, pool=, backend=, request_id=, limit=), or what is wrong with it. */
function requestsQuery(params: URLSearchParams): { status?: string; route?: string; pool?: string; backend?: string; requestId?: string; limit: number } | string {
  const status = params.get('status') || undefined;
  if (status !== undefined && !/^([1-5]\d\d|[1-5]xx|error)$/i.test(status)) return `admin: requests status must be a status (404), a class (5xx) or "error", got ${JSON.stringify(status)}`;
  const limitText = params.get('limit') || '200';
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxRequests) return `admin: requests limit must be a whole number 1..${maxRequests}, got ${JSON.stringify(limitText)}`;
  return { status: status?.toLowerCase(), route: params.get('route') || undefined, pool: params.get('pool') || undefined, backend: params.get('backend') || undefined, requestId: params.get('request_id') || undefined, limit };
}

const backendPath = /^\/api\/pools\/([^/]+)\/backends\/([^/]+)\/(drain|enable)$/;

export class AdminServer implements Component {
  private server: Server | undefined;
  private readonly token: Buffer;
  private readonly options: AdminServerOptions;
  private readonly dashboard: Dashboard;

  constructor(options: AdminServerOptions) {
    this.options = options;
    this.token = Buffer.from(options.token);
    this.dashboard = new Dashboard(this.token, options.tls !== undefined);
  }

  async start(): Promise<void> {
    const listener = (request: IncomingMessage, response: ServerResponse): void => {
      this.handle(request, response).catch((err) => {
        this.options.logger.error({ err: messageOf(err) }, 'admin: request failed');
        if (!response.headersSent) json(response, 500, { error: 'internal error' });
        else response.destroy();
      });
    };
    const tls = this.options.tls;
    const server = tls
      ? (await import('node:https')).createServer({ cert: await readFile(tls.certFile), key: await readFile(tls.keyFile), minVersion: tls.minVersion }, listener)
      : nodeHttp.createServer(listener);
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  address(): { host: string; port: number; scheme: 'http' | 'https' } {
    const info = this.server?.address() as AddressInfo | null;
    return { host: this.options.host, port: info?.port ?? this.options.port, scheme: this.options.tls ? 'https' : 'http' };
  }

  async drain(): Promise<void> {}

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://admin');
    const { controller } = this.options;

    if (url.pathname === '/healthz') {
      const healthy = controller.healthy();
      response.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      response.end(healthy ? 'ok\n' : 'shutting down\n');
      return;
    }
    if (await this.dashboard.serve(request, response, url.pathname)) return;
    if (!this.dashboard.allows(request, tokenMatches(this.token, request.headers.authorization))) {
      response.setHeader('www-authenticate', 'Bearer realm="switchyard-admin"');
      json(response, 401, { error: 'missing or wrong admin token (Authorization: Bearer <token from token_file>, or the dashboard\'s session cookie)' });
      return;
    }

    const method = request.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/metrics') {
      const { contentType, body } = await controller.metrics();
      response.writeHead(200, { 'content-type': contentType });
      response.end(body);
      return;
    }
    if (method === 'GET' && url.pathname === '/api/status') return json(response, 200, await controller.status());
    if (method === 'GET' && url.pathname === '/api/pools') return json(response, 200, await controller.pools());
    if (method === 'GET' && url.pathname === '/api/events') return this.dashboard.events(response, controller);
    if (method === 'GET' && url.pathname === '/api/requests') {
      const query = requestsQuery(url.searchParams);
      if (typeof query === 'string') return json(response, 400, { error: query });
      return json(response, 200, await controller.requests(query));
    }
    if (method === 'GET' && url.pathname === '/api/history') return json(response, 200, await controller.history());
    if (method === 'GET' && url.pathname === '/api/dns') return json(response, 200, await controller.dns());
    if (method === 'GET' && url.pathname === '/api/explain') {
      const target = url.searchParams.get('url');
      if (!target || !URL.canParse(target)) return json(response, 400, { error: 'admin: explain needs url=<absolute URL> (and method=, header=Name: value, listener=, client=)' });
      const headers: [string, string][] = [];
      for (const header of url.searchParams.getAll('header')) {
        const colon = header.indexOf(':');
        if (colon <= 0) return json(response, 400, { error: `admin: explain header must be "Name: value", got ${JSON.stringify(header)}` });
        headers.push([header.slice(0, colon).trim(), header.slice(colon + 1).trim()]);
      }
      const query = { method: url.searchParams.get('method') ?? 'GET', url: target, headers, listener: url.searchParams.get('listener') ?? undefined, clientAddress: url.searchParams.get('client') ?? undefined };
      return json(response, 200, await controller.explain(query));
    }
    if (method === 'POST' && url.pathname === '/api/reload') {
      // Optional body {"config": "/absolute/path.yaml"}: load that file instead of the edge's own.
      const body = await readSmallBody(request);
      let file: unknown;
      try {
        file = body === '' ? undefined : (JSON.parse(body) as { config?: unknown }).config;
      } catch {
        return json(response, 400, { ok: false, error: 'admin: reload body must be JSON: {"config": "/absolute/path"}' });
      }
      if (file !== undefined && (typeof file !== 'string' || !file.startsWith('/'))) return json(response, 400, { ok: false, error: 'admin: reload config must be an absolute path' });
      const result = await controller.reload(file);
      return json(response, result.ok ? 200 : 422, result);
    }
    if (method === 'POST' && url.pathname === '/api/cache/purge') {
      const target = purgeTarget(await readSmallBody(request));
      if (typeof target === 'string') return json(response, 400, { error: target });
      return json(response, 200, { purged: await controller.purgeCache(target) });
    }
    const match = backendPath.exec(url.pathname);
    if (match && method === 'POST') {
      const [, pool, backend, action] = match;
      const found = await controller.setDraining(decodeURIComponent(pool), decodeURIComponent(backend), action === 'drain');
      if (!found) return json(response, 404, { error: `pool ${pool}: no backend ${decodeURIComponent(backend)}` });
      return json(response, 200, { pool, backend: decodeURIComponent(backend), state: action === 'drain' ? 'draining' : 'enabled' });
    }
    json(response, 404, { error: 'not found', endpoints: ['GET /healthz', 'GET /metrics', 'GET /api/status', 'GET /api/pools', 'GET /api/events', 'GET /api/requests', 'GET /api/history', 'GET /api/dns', 'GET /api/explain', 'POST /api/reload', 'POST /api/cache/purge', 'POST /api/pools/:pool/backends/:host:port/drain|enable'] });
  }
}

/** The body of POST /api/cache/purge: {"url": …} or {"prefix": …}, an absolute http(s) URL; else the error text. */
function purgeTarget(body: string): { url?: string; prefix?: string } | string {
  const usage = 'admin: cache purge body must be JSON {"url": "https://host/path"} or {"prefix": "https://host/path/"}';
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return usage;
  }
  if (typeof parsed !== 'object' || parsed === null) return usage;
  const { url, prefix, ...rest } = parsed as { url?: unknown; prefix?: unknown };
  if (Object.keys(rest).length > 0 || (url === undefined) === (prefix === undefined)) return usage;
  const text = url ?? prefix;
  if (typeof text !== 'string' || !URL.canParse(text) || !/^https?:$/.test(new URL(text).protocol)) return `${usage}; got ${JSON.stringify(text)}`;
  return url !== undefined ? { url: text } : { prefix: text };
}
