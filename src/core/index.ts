export * from './errors.ts';
export * from './units.ts';
export * from './lifecycle.ts';
export * from './clock.ts';
export * from './log.ts';
export * from './http-date.ts';
export * from './token.ts';
export { filterDurationBuckets } from './filter-buckets.ts';
export { nodeHttp, nodeUtil } from './builtins.ts';
export { JEMALLOC_PATHS } from './jemalloc-paths.ts';
export { FILTER_TIMES, T_REQUEST_START, T_REQUEST_END, T_UPSTREAM_START, T_UPSTREAM_END, T_RESPONSE_START, T_RESPONSE_END, T_BODY_START, T_BODY_END } from './filter-times.ts';
export { parsePasswordHash, parseUsersText, type PasswordHash } from './htpasswd.ts';
export { readJwtKeys, readJwtSecret, parseJwtKeys, MIN_JWT_SECRET_BYTES, type JwtKeyFile } from './jwt-key-files.ts';
export { parseCidr, type Cidr } from './cidr.ts';
export { STALE_ANSWER_AFTER_DEFAULT, listensBeyondLoopback } from './dns-defaults.ts';
export { LineFileSink, type LineFileSinkOptions } from './line-file-sink.ts';
// the access line as bytes and its people's formats: shared by the l7 access log and the primary's log setup
export { AccessLine, encodeAscii } from './access-line.ts';
export { AccessTimes, accessLineRewriter, buildCombined, buildText, formatOfHook, formattedWorstCase, type AccessFields, type AccessLogFormat, type AccessRequestHeaders } from './access-formats.ts';
