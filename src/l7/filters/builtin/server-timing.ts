// `server_timing`: a request carrying the admin trace token (x-switchyard-trace) gets the edge's phases
// back as Server-Timing (route, balance, connect, upstream; edge-timing.ts) beside the upstream's own,
// and a traceresponse naming the edge's span. Built only when a trace token is configured.
import type { EdgeRequest, FilterContext, HeaderWriter, ResponseVerdict } from '../types.ts';
import type { BuiltinFilter } from './builtin-filter.ts';

export interface ServerTimingSettings {
  /** An admin trace token is configured (else no request can ask, and the filter is not built). */
  traceable: boolean;
}

/** Builds the filter, or null when no request can be traced. */
export function createServerTiming(settings: ServerTimingSettings): BuiltinFilter | null {
  if (!settings.traceable) return null;
  return {
    name: 'server_timing',
    // only a traced request needs the hook: the paths skip the response phase of the built-ins otherwise
    tracedOnly: true,
    onResponse(ctx: FilterContext, head: HeaderWriter): ResponseVerdict {
      const edge = ctx.edge as EdgeRequest;
      if (!edge.debugTrace) return undefined;
      head.add('server-timing', edge.edgeTiming());
      head.add('traceresponse', `00-${edge.traceId}-${edge.spanId}-${edge.traceFlags}`);
      return undefined;
    },
  };
}
