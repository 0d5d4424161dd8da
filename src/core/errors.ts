// EdgeError: every failure that crosses a component boundary carries a stable code, where it arose
// (source), whether a retry may help, and the HTTP status it maps to at the edge (STYLE.md rule 7).

export type ErrorSource = 'downstream' | 'upstream' | 'internal' | 'config';

/** Whether trying again (on another backend, or later) can succeed. */
export type RetryVerdict = 'retryable' | 'retryable_if_idempotent' | 'final';

export interface EdgeErrorOptions {
  source: ErrorSource;
  retry?: RetryVerdict;
  status?: number;
  cause?: unknown;
}

export class EdgeError extends Error {
  readonly code: string;
  readonly source: ErrorSource;
  readonly retry: RetryVerdict;
  readonly status: number;

  constructor(code: string, message: string, options: EdgeErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EdgeError';
    this.code = code;
    this.source = options.source;
    this.retry = options.retry ?? 'final';
    this.status = options.status ?? 500;
  }
}

/** A config that cannot be used: the message already reads `file:line:col: field: expected X, got Y`. */
export class ConfigError extends EdgeError {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super('SY_ERR_CONFIG', issues.join('\n'), { source: 'config', status: 500 });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export const isEdgeError = (value: unknown): value is EdgeError => value instanceof EdgeError;

/** Message of any thrown value, for logs and CLI output (never a stack trace for the user). */
export function messageOf(value: unknown): string {
  if (value instanceof Error) return value.message;
  return String(value);
}
