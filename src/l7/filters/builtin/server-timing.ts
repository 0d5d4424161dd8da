// `server_timing`: a request carrying the admin trace token (x-switchyard-trace) gets the edge's phases
// back as Server-Timing (route, balance, connect, upstream; edge-timing.ts) beside the upstream's own,
// and a traceresponse naming the edge's span. Built only when a trace token is configured.
import type { EdgeRequest, FilterContext, HeaderWriter, HttpFilter, ResponseVerdict } from '../types.ts';

export interface ServerTimingSettings {
  /** An admin trace token is configured (else no request can ask, and the filter is not built). */
  traceable: boolean;
}

/** Builds the filter, or null when no request can be traced. */
export function createServerTiming(settings: ServerTimingSettings): HttpFilter | null {
  if (!settings.traceable) return null;
  return {
    name: 'server_timing',
    onResponse(ctx: FilterContext, head: HeaderWriter): ResponseVerdict {
      const edge = ctx.edge as EdgeRequest;
      if (!edge.debugTrace) return undefined;
      head.add('server-timing', edge.edgeTiming());
      head.add('traceresponse', `00-${edge.traceId}-${edge.spanId}-${edge.traceFlags}`);
      return undefined;
    },
  };
}
