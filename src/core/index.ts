export * from './errors.ts';
export * from './units.ts';
export * from './lifecycle.ts';
export * from './clock.ts';
export * from './log.ts';
export * from './http-date.ts';
export * from './token.ts';
export { filterDurationBuckets } from './filter-buckets.ts';
export { LineFileSink, type LineFileSinkOptions } from './line-file-sink.ts';
// the access line as bytes and its people's formats: shared by the l7 access log and the primary's log setup
export { AccessLine, encodeAscii } from './access-line.ts';
export { AccessTimes, accessLineRewriter, buildCombined, buildText, formatOfHook, formattedWorstCase, type AccessFields, type AccessLogFormat, type AccessRequestHeaders } from './access-formats.ts';
