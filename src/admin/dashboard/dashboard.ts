// The dashboard on the admin listener: `GET /` and `/dashboard` serve the login form until the browser holds
// a session cookie, then the page; POST /dashboard/login trades the admin token for that cookie; the page's
// script and stylesheet are public (they hold no secret). The admin server asks `credential()` of every
// /api request: the Bearer token works for everything, the cookie for GETs, and for POSTs only together
// with the page's CSRF header. GET /api/events streams status and pools snapshots (server-sent events).
import type http from 'node:http';
import { sameToken } from '../../core/index.ts';
import { DashboardBundle } from './assets.ts';
import { appPage, loginPage, loginScript, sendAsset, sendHtml } from './pages.ts';
import { DashboardSessions, sessionCookie, sessionCookieName } from './session.ts';

export const csrfHeader = 'x-switchyard-csrf';
const snapshotIntervalMs = 1000;

export interface DashboardSource {
  status(): Promise<unknown>;
  pools(): Promise<unknown>;
}

export class Dashboard {
  private readonly sessions = new DashboardSessions();
  private readonly bundle = new DashboardBundle();
  private readonly token: Buffer;
  private readonly secure: boolean;

  /** `secure`: the admin listener serves HTTPS, so the cookie gets the Secure attribute. */
  constructor(token: Buffer, secure: boolean) {
    this.token = token;
    this.secure = secure;
  }

  /** Serves the dashboard's own paths; false for any other path (the admin API's). */
  async serve(request: http.IncomingMessage, response: http.ServerResponse, pathname: string): Promise<boolean> {
    const method = request.method ?? 'GET';
    if ((pathname === '/' || pathname === '/dashboard') && (method === 'GET' || method === 'HEAD')) {
      const cookie = sessionCookie(request.headers.cookie);
      if (cookie !== undefined && this.sessions.valid(cookie)) sendHtml(response, 200, appPage(this.sessions.csrfFor(cookie)));
      else sendHtml(response, 200, loginPage());
      return true;
    }
    if (pathname === '/dashboard/login' && method === 'POST') {
      await this.login(request, response);
      return true;
    }
    if (pathname === '/dashboard/login.js') {
      sendAsset(response, 'text/javascript; charset=utf-8', loginScript);
      return true;
    }
    if (pathname === '/dashboard/app.js' || pathname === '/dashboard/app.css') {
      const assets = await this.bundle.get();
      if (pathname.endsWith('.js')) sendAsset(response, 'text/javascript; charset=utf-8', assets.js);
      else sendAsset(response, 'text/css; charset=utf-8', assets.css);
      return true;
    }
    return false;
  }

  /**
   * Whether an /api request carries a credential: the Bearer token (already checked by the caller: pass
   * `bearer`), or a valid session cookie on a GET/HEAD, or on any other method that cookie plus the
   * matching CSRF header.
   */
  allows(request: http.IncomingMessage, bearer: boolean): boolean {
    if (bearer) return true;
    const cookie = sessionCookie(request.headers.cookie);
    if (cookie === undefined || !this.sessions.valid(cookie)) return false;
    const method = request.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') return true;
    const csrf = request.headers[csrfHeader];
    return typeof csrf === 'string' && sameToken(csrf, this.sessions.csrfFor(cookie));
  }

  /** GET /api/events: a `snapshot` event ({status, pools}) now and every second until the client leaves. */
  events(response: http.ServerResponse, source: DashboardSource): void {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    let busy = false;
    const push = async (): Promise<void> => {
      if (busy) return; // a slow snapshot skips a beat rather than queueing
      busy = true;
      try {
        const [status, pools] = await Promise.all([source.status(), source.pools()]);
        if (!response.destroyed) response.write(`event: snapshot\ndata: ${JSON.stringify({ status, pools })}\n\n`);
      } catch (err) {
        if (!response.destroyed) response.write(`event: failure\ndata: ${JSON.stringify({ error: String((err as Error)?.message ?? err) })}\n\n`);
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void push(), snapshotIntervalMs);
    response.on('close', () => clearInterval(timer));
    void push();
  }

  private async login(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    // read to the end (the connection stays usable) but keep at most ~4 KiB: a token is 64 characters
    let body = '';
    for await (const chunk of request) if (body.length <= 4096) body += chunk;
    const token = new URLSearchParams(body).get('token') ?? '';
    if (body.length > 4096 || !sameToken(token.trim(), this.token)) {
      sendHtml(response, 401, loginPage('wrong admin token'));
      return;
    }
    const cookie = `${sessionCookieName}=${this.sessions.issue()}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200${this.secure ? '; Secure' : ''}`;
    response.writeHead(303, { location: '/dashboard', 'set-cookie': cookie, 'cache-control': 'no-store', 'content-length': 0 });
    response.end();
  }
}
