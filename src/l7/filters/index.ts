// The filter registry: every built-in filter registers under its config name (`middleware: - <name>:`),
// exactly as an added one would; the `satisfies` clause proves each name the schema accepts has an
// implementation building from that name's settings.
import type { MiddlewareName } from '../../config/index.ts';
import type { FilterFactory } from './types.ts';
import { headersFilter } from './headers.ts';
import { cacheFilter } from './cache/index.ts';
import { compressFilter } from './compress/index.ts';
import { rateLimitFilter } from './rate-limit/index.ts';
import { corsFilter } from './cors/index.ts';
import { basicAuthFilter } from './basic-auth/index.ts';
import { stickyFilter } from './sticky/index.ts';
import { jwtFilter } from './jwt/index.ts';
import { forwardAuthFilter } from './forward-auth/index.ts';
import { wafFilter } from './waf/index.ts';
import { oidcFilter } from './oidc/index.ts';
import { FilterHost, type FilterHostOptions } from './host.ts';

const builtins = Object.freeze({
  headers: headersFilter,
  cache: cacheFilter,
  compress: compressFilter,
  rate_limit: rateLimitFilter,
  cors: corsFilter,
  basic_auth: basicAuthFilter,
  sticky: stickyFilter,
  jwt: jwtFilter,
  forward_auth: forwardAuthFilter,
  waf: wafFilter,
  oidc: oidcFilter,
} satisfies { [N in MiddlewareName]: FilterFactory<N> });

/** A fresh registry holding the built-in filters (a test may build a FilterHost with another). */
export function builtinFilters(): Map<string, FilterFactory> {
  return new Map<string, FilterFactory>(Object.entries(builtins) as [string, FilterFactory][]);
}

/** A host over the built-in filters (one per process; tests and `explain` make their own). */
export function builtinFilterHost(options: Omit<FilterHostOptions, 'registry'> = {}): FilterHost {
  return new FilterHost({ ...options, registry: builtinFilters() });
}

export { FilterChain, buildChain, isLocal, FILTER_TIMES, T_REQUEST_START, T_REQUEST_END, T_UPSTREAM_START, T_UPSTREAM_END, T_RESPONSE_START, T_RESPONSE_END, T_BODY_START, T_BODY_END, type FilterRegistry } from './chain.ts';
export { FilterHost, type FilterHostOptions, type FilterEventSeries } from './host.ts';
export { FilterSlots, isPending } from './slots.ts';
export { LineWriter, FlatWriter, RecordWriter, withoutField } from './writers.ts';
export { localResponseFields, newWireMemo } from './local.ts';
export { acceptable as acceptableEncodings } from './compress/index.ts';
export { purgeCache } from './cache/index.ts';
// For the supervisor: the primary answers the workers' token leases of `rate_limit` with `store: local`.
export { LeaseServer, type RateLeaseRequest, type RateLeaseReply } from './rate-limit/index.ts';
export { BuiltinFilters, buildBuiltins, builtinSettings, builtinFilterNames, builtinFilterFactories, usableRequestId, forwardedValue, type BuiltinFilterName, type BuiltinSettings } from './builtin/index.ts';
export type { EdgeRequest, FilterContext, HeaderWriter, HttpFilter, LocalResponse, WireMemo, FilterFactory, FilterEnv, FilterStats, RequestVerdict, ResponseVerdict, ResponseView, BodySink, BodyTransform } from './types.ts';
export { FilteredDownstream, type FilteredDownstreamOptions } from './filtered-downstream.ts';
