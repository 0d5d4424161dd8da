// The layout of a filterTimes array: FILTER_TIMES numbers per filter of the chain (in `names` order),
// monotonic ms, 0 where that phase did not run: request (onRequest) start and end, upstream head edits
// (onUpstreamRequest, the last try's) start and end, response (onResponse) start and end, the body
// transform its onResponse returned: first byte in, last byte out (end 0: it did not finish). In core
// because the filter chain (src/l7) writes it and the telemetry exporters in the primary read it: the
// primary reads the layout without loading the request pipeline.
export const FILTER_TIMES = 8;
export const T_REQUEST_START = 0;
export const T_REQUEST_END = 1;
export const T_UPSTREAM_START = 2;
export const T_UPSTREAM_END = 3;
export const T_RESPONSE_START = 4;
export const T_RESPONSE_END = 5;
export const T_BODY_START = 6;
export const T_BODY_END = 7;
