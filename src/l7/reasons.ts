// The access log's `reason`: why the edge answered (or decided) as it did, as a short code operators can
// count and grep — the cause behind an edge-made 4xx/5xx that the status alone does not tell.

const BY_STATUS: Readonly<Record<number, string>> = {
  400: 'bad_request',
  404: 'no_route',
  405: 'method_not_allowed',
  408: 'request_timeout',
  411: 'length_required',
  413: 'body_too_large',
  414: 'uri_too_long',
  417: 'expectation_failed',
  499: 'client_closed',
  431: 'header_too_large',
  500: 'internal_error',
  501: 'not_implemented',
  502: 'bad_gateway',
  503: 'no_backend',
  504: 'upstream_timeout',
  505: 'version_not_supported',
};

/** A request refused or answered by the edge itself (nothing went upstream). */
export function refusedReason(status: number): string {
  return BY_STATUS[status] ?? `edge_${status}`;
}

/**
 * An answer the edge made after trying the upstream: the lease outcome says what went wrong
 * (connect_error, reset, timeout, bad_response); a cancelled one falls back to the status.
 */
export function failureReason(status: number, outcome: string): string {
  switch (outcome) {
    case 'connect_error':
      return 'connect_error';
    case 'reset':
      return 'upstream_reset';
    case 'timeout':
      return status === 408 ? 'request_timeout' : 'upstream_timeout';
    case 'bad_response':
      return 'bad_response';
    default:
      return refusedReason(status);
  }
}

/** The header that carries the reason to a traced request (x-switchyard-trace with the admin token). */
export const REASON_HEADER = 'x-switchyard-reason';

/** A reason as a header value: visible ASCII only (a filter's code could hold anything). */
export function reasonValue(reason: string): string {
  return reason.replace(/[^\x21-\x7e]/g, '_');
}

/** The HTTP/1.1 header line "x-switchyard-reason: <reason>\r\n". */
export function reasonLine(reason: string): string {
  return `${REASON_HEADER}: ${reasonValue(reason)}\r\n`;
}
