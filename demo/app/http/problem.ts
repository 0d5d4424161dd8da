// Errors as RFC 9457 problem details (application/problem+json). Handlers throw HttpProblem; the request
// pipeline turns it, a DbError or any other exception into a response, so nothing escapes to the socket.
import { STATUS_CODES } from 'node:http';

export type Headers = Record<string, string | string[]>;

export interface ProblemOptions {
  /** Machine-readable reason in the `code` extension member: validation, conflict, unavailable, … */
  code?: string;
  headers?: Headers;
  /** Further extension members (e.g. `errors` for validation failures). */
  extensions?: Record<string, unknown>;
}

export class HttpProblem extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly headers: Headers;
  readonly extensions: Record<string, unknown>;

  constructor(status: number, detail: string, options: ProblemOptions = {}) {
    super(detail);
    this.name = 'HttpProblem';
    this.status = status;
    this.code = options.code;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** The problem document; `type` stays about:blank, so `title` is the status phrase (RFC 9457 §4.2.1). */
export function problemDocument(status: number, detail: string, instance: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, instance, ...extra };
}

export const notFound = (what: string): HttpProblem => new HttpProblem(404, `${what} not found`, { code: 'not_found' });
