// Per-request state: the parsed URL, route parameters, the client address, the time spent in the
// database (for Server-Timing) and the authenticated user, read lazily from the bearer token or cookie.
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { z } from 'zod';
import type { AuthUser, TokenService } from '../auth/tokens.ts';
import { readCookie, sessionCookieName } from '../auth/cookies.ts';
import { readJsonBody } from './body.ts';
import { HttpProblem, type Headers } from './problem.ts';

export interface Reply {
  status: number;
  /** JSON-serialised; absent for 204. */
  body?: unknown;
  headers?: Headers;
}

export interface ContextDeps {
  tokens: TokenService;
  bodyLimit: number;
}

const bearerChallenge = { 'www-authenticate': 'Bearer realm="switchyard-demo"' };

export class RequestContext {
  readonly req: IncomingMessage;
  readonly url: URL;
  readonly client: string;
  readonly startedAt: number;
  params: Record<string, string> = {};
  /** Milliseconds spent waiting for the database, summed over the request's queries. */
  dbMs = 0;
  readonly #deps: ContextDeps;

  constructor(req: IncomingMessage, client: string, deps: ContextDeps) {
    this.startedAt = performance.now();
    this.req = req;
    // Only the path and query matter; the base keeps URL from rejecting origin-form targets.
    this.url = new URL(req.url ?? '/', 'http://app.invalid');
    this.client = client;
    this.#deps = deps;
  }

  /** Runs one repository call and adds its duration to the request's database time. */
  async db<T>(work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.dbMs += performance.now() - started;
    }
  }

  /** The route parameter `id` as a number (the router only matches positive integers). */
  id(): number {
    return Number(this.params.id);
  }

  /** Reads and validates the JSON body; 400 lists each invalid field. */
  async body<S extends z.ZodType>(schema: S): Promise<z.output<S>> {
    const raw = await readJsonBody(this.req, this.#deps.bodyLimit);
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const errors = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
      const detail = errors.map((error) => (error.path ? `${error.path}: ${error.message}` : error.message)).join('; ');
      throw new HttpProblem(400, `invalid request body: ${detail}`, { code: 'validation', extensions: { errors } });
    }
    return parsed.data;
  }

  /** Validates the query string the same way (numbers arrive as text: use z.coerce). */
  query<S extends z.ZodType>(schema: S): z.output<S> {
    const parsed = schema.safeParse(Object.fromEntries(this.url.searchParams));
    if (!parsed.success) {
      const detail = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
      throw new HttpProblem(400, `invalid query: ${detail}`, { code: 'validation' });
    }
    return parsed.data;
  }

  /**
   * The user of a valid token, from `Authorization: Bearer` or else the session cookie; 401 otherwise.
   * A present but invalid Authorization header is not rescued by the cookie: the caller meant that token.
   */
  async requireUser(): Promise<AuthUser> {
    const authorization = this.req.headers.authorization;
    let token: string | undefined;
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) throw new HttpProblem(401, 'expected an Authorization: Bearer token', { code: 'unauthorized', headers: bearerChallenge });
      token = match[1];
    } else {
      token = readCookie(this.req.headers.cookie, sessionCookieName);
    }
    if (!token) throw new HttpProblem(401, 'log in first: POST /api/login', { code: 'unauthorized', headers: bearerChallenge });
    const user = await this.#deps.tokens.verify(token);
    if (!user) {
      throw new HttpProblem(401, 'the token is invalid or expired', {
        code: 'unauthorized',
        headers: { 'www-authenticate': 'Bearer realm="switchyard-demo", error="invalid_token"' },
      });
    }
    return user;
  }
}
