export * from './errors.ts';
export * from './units.ts';
export * from './lifecycle.ts';
export * from './clock.ts';
export * from './log.ts';
export * from './http-date.ts';
export * from './token.ts';
export { filterDurationBuckets } from './filter-buckets.ts';
export { parsePasswordHash, parseUsersText, type PasswordHash } from './htpasswd.ts';
