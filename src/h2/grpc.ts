// gRPC at the proxy: recognising calls, deadlines (grpc-timeout) and the trailers-only error form that
// a gRPC client understands where an HTTP error page would only give it "unknown" or "internal".
import { constants, type ServerHttp2Stream } from 'node:http2';

/** gRPC status codes the proxy itself produces. */
export const grpcStatus = {
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export function isGrpc(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/grpc');
}

/** gRPC's HTTP → status mapping (doc/http-grpc-status-mapping.md), for errors the proxy itself raises. */
export function grpcCodeForHttp(status: number): number {
  switch (status) {
    case 400:
      return grpcStatus.INTERNAL;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return grpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return grpcStatus.UNAVAILABLE;
    default:
      return grpcStatus.UNKNOWN;
  }
}

const timeoutUnits: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };

/** grpc-timeout ("100m", "5S", at most 8 digits and a unit) → ms; undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * timeoutUnits[match[2]];
}

/** The remaining budget as a grpc-timeout value for the upstream (milliseconds, at least 1). */
export function formatGrpcTimeout(ms: number): string {
  return `${Math.max(1, Math.ceil(ms))}m`;
}

/** gRPC percent-encoding of grpc-message (spec: PROTOCOL-HTTP2, "Response-Headers"). */
export function encodeGrpcMessage(message: string): string {
  return encodeURIComponent(message).replace(/%20/g, ' ');
}

/**
 * Answers a stream that has sent nothing yet with a gRPC status in trailers-only form: one HEADERS frame
 * with END_STREAM carrying :status 200, content-type and grpc-status (PROTOCOL-HTTP2 "Trailers-Only").
 * A stream that already sent headers is reset instead (its owner sends real trailers when it can).
 */
export function respondGrpcStatus(stream: ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_CANCEL);
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) }, { endStream: true });
}
