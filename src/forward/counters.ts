// The forward proxy's counters (per listener, per worker), bumped in place and read by status() for the
// admin API and /metrics (src/supervisor/metrics.ts sums them over workers).

/** Why a request was refused before any destination was contacted (403 and 407 answers). */
export const DENIAL_REASONS = ['client', 'auth', 'host', 'port', 'destination'] as const;
export type DenialReason = (typeof DENIAL_REASONS)[number];

/** Why a forwarded request or tunnel failed on the destination's side (502 and 504 answers). */
export const FAILURE_REASONS = ['dns', 'connect', 'connect_timeout', 'response_timeout', 'bad_response', 'upstream_closed'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export class ForwardCounters {
  accepted = 0;
  /** Absolute-URI requests answered (any status, denials included). */
  requests = 0;
  /** CONNECT tunnels established. */
  tunnels = 0;
  /** Requests refused as malformed (4xx from the parser or the proxy's own rules). */
  bad_requests = 0;
  /** Bytes read from and written to clients (request and tunnel payloads, counted when each ends). */
  bytes_in = 0;
  bytes_out = 0;
  /** Requests answered from a kept-alive origin connection. */
  reused = 0;
  readonly denied: Record<DenialReason, number> = { client: 0, auth: 0, host: 0, port: 0, destination: 0 };
  readonly failed: Record<FailureReason, number> = { dns: 0, connect: 0, connect_timeout: 0, response_timeout: 0, bad_response: 0, upstream_closed: 0 };
}
