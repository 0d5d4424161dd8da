// DiagError: a diagnostic that failed, naming the layer that failed first, so every command can report
// "LAYER: what happened" in one line (DNS, TCP, TLS, HTTP for the request path; ICMP and UDP for the
// network probes) and exit non-zero without a stack trace.
import { EdgeError } from '../core/index.ts';

export type DiagLayer = 'DNS' | 'TCP' | 'TLS' | 'HTTP' | 'ICMP' | 'UDP';

export class DiagError extends EdgeError {
  readonly layer: DiagLayer;
  /** The message without the layer prefix, for JSON output. */
  readonly detail: string;

  constructor(layer: DiagLayer, detail: string, cause?: unknown) {
    super(`SY_ERR_DIAG_${layer}`, `${layer}: ${detail}`, { source: 'upstream', retry: 'retryable', cause });
    this.name = 'DiagError';
    this.layer = layer;
    this.detail = detail;
  }
}

export const isDiagError = (value: unknown): value is DiagError => value instanceof DiagError;

/** Words for the socket errors users meet; the code stays in the text for searching. */
export function describeSocketError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ECONNRESET':
      return 'connection reset by peer (ECONNRESET)';
    case 'EHOSTUNREACH':
      return 'host unreachable (EHOSTUNREACH)';
    case 'ENETUNREACH':
      return 'network unreachable (ENETUNREACH)';
    case 'ETIMEDOUT':
      return 'timed out (ETIMEDOUT)';
    case 'EADDRNOTAVAIL':
      return 'address not available (EADDRNOTAVAIL)';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
