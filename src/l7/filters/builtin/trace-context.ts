// `trace_context`: W3C Trace Context going upstream. The traceparent names the edge's span (continuing
// the client's trace when its traceparent was valid); a tracestate belongs to the trace it came with, so
// it is removed when the trace was not continued. The client's traceparent never goes up as it is.
import type { EdgeRequest, FilterContext, HeaderWriter, HttpFilter } from '../types.ts';

export function createTraceContext(): HttpFilter {
  return {
    name: 'trace_context',
    upstreamRemoves: ['traceparent'],
    onUpstreamRequest(ctx: FilterContext, head: HeaderWriter): void {
      const edge = ctx.edge as EdgeRequest;
      if (!edge.traceContinued && edge.sentTracestate) head.remove('tracestate');
      head.add('traceparent', `00-${edge.traceId}-${edge.spanId}-${edge.traceFlags}`);
    },
  };
}
