// L7 (HTTP/1.1) public entry. Other components import only this file.
//
// createHttpListener(config, deps) builds a listener (no I/O until start()). Contract:
//   start()            binds listen.host:port (SO_REUSEPORT on Linux, so worker processes can share it)
//   address()          the bound address (port 0 resolved)
//   status()           { name, address, connections, inflight, requests }
//   updateConfig(...)  reload: new requests use the new routes/pools; in-flight ones keep theirs
//   drain(deadline)    stop accepting, close idle connections, let in-flight ones finish (Connection: close)
//   stop()             close everything (works after a partial start)
//   handleExchange(request, downstream)  for src/h2: proxy one already-parsed request through the router
//     and the HTTP/1.1 upstream path. The codec gives method/authority/path/flat headers and a body via the
//     returned handle (bodyData/bodyEnd, drain, abort); L7 answers through `downstream` (sendHead,
//     sendData with backpressure, end(trailers?), fail(EdgeError), pauseBody/resumeBody). See types.ts.
//   deps.foreignUpstream  the reverse, from src/h2: HTTP/1.1 requests routed to h2c/h2/grpc pools are handed
//     to it as an exchange; the HTTP/1.1 connection relays the response (foreign-relay.ts).
import type { ListenerConfig } from '../config/index.ts';
import type { HttpListener, HttpListenerDeps } from './types.ts';
import { HttpListenerImpl } from './listener.ts';

export type {
  HttpListener,
  HttpListenerDeps,
  RequestDoneRecord,
  HttpListenerStatus,
  UpstreamPool,
  UpstreamPools,
  UpstreamSettings,
  ExchangeRequest,
  ExchangeDownstream,
  ExchangeHandle,
  ForeignTarget,
  AccessRecordSink,
  DnsAnswerer,
  HttpChallengeSource,
  EarlierAttempt,
  ConnectionTimes,
} from './types.ts';
// For src/h2: tries before the last one, as every path notes them for the waterfall.
export { Attempts, ATTEMPT_GRPC, ATTEMPT_KEEPALIVE_RACE, K_GRPC_UNAVAILABLE, K_REFUSED, type TryTimes } from './attempts.ts';
export { upstreamSettingsFromPools } from './settings.ts';
// For src/h2: requests proxied to HTTP/2 pools log the same record as every other request.
export { AccessRecord } from './access-log.ts';
export type { BridgeTrace } from './bridge-head.ts';
// For src/h2: requests to HTTP/2 pools retry under the same policy, budget and replay limit as HTTP/1.1 ones.
export { compileRetryPolicy, retryEnabled, NO_RETRY, REPLAY_LIMIT, R_CONNECT_ERROR, R_RESET, R_TIMEOUT, RetryBudget, type RetryPolicy } from './retry-policy.ts';

export function createHttpListener(listener: ListenerConfig, deps: HttpListenerDeps): HttpListener {
  return new HttpListenerImpl(listener, deps);
}

// For src/h2: the same route matching and client-address rules for streams that go to h2/grpc pools.
export { Router, type CompiledRoute, type HeaderSource, type RouteVerdict } from './router/router.ts';
export { upstreamTarget, type ProxyAction } from './router/actions.ts';
export { TrustedProxies, clientFromChain, normalizePeer } from './forwarded.ts';
// For src/h2: streams proxied to HTTP/2 pools are routed on, and forward, the path HTTP/1.1 would.
export { normalizePath } from './parse/path.ts';
export { FILTER_TIMES, T_REQUEST_START, T_REQUEST_END, T_UPSTREAM_START, T_UPSTREAM_END, T_RESPONSE_START, T_RESPONSE_END, T_BODY_START, T_BODY_END } from './filters/index.ts';
export { FlatWriter, RecordWriter, localResponseFields, builtinFilters, builtinFilterHost, FilterHost, FilterSlots, FilteredDownstream, isPending, type FilterChain, type FilterRegistry, type FilterContext, type HeaderWriter, type HttpFilter, type LocalResponse, type FilterFactory, type FilterEnv, type FilterStats, type FilterEventSeries, type RequestVerdict, type ResponseVerdict, type ResponseView, type BodySink, type BodyTransform } from './filters/index.ts';
export { purgeCache } from './filters/index.ts';
// For src/forward: a forward proxy's middleware runs the same filters over the same HTTP/1.1 heads.
export { buildChain, isLocal, LineWriter, withoutField } from './filters/index.ts';
export { H1ResponseView } from './response-filters.ts';
export { fieldsResponse } from './local-response.ts';
export { cookieValue } from './parse/cookie.ts';
export { requestField, joinedValues, soleValue } from './bridge-head.ts';
// For src/h2: the built-in filters (forwarded headers, request id, trace context, hide, HSTS, Server-Timing) of every path.
export { BuiltinFilters, buildBuiltins, builtinSettings, usableRequestId, type EdgeRequest } from './filters/index.ts';
// For src/diag: a traceparent read by the one W3C parser.
export { parseTraceparent } from './trace-context.ts';

// For the admin API and `switchyard explain`: what the edge would do with one request.
export { explainRequest, renderExplanation, type ExplainQuery, type ExplainContext, type Explanation } from './explain.ts';
export { refusedReason, failureReason } from './reasons.ts';

// For src/forward: the same strict HTTP/1.1 codec (request heads with CONNECT, response heads, chunked
// framing), so a forward proxy refuses exactly what the reverse proxy refuses.
export {
  RequestHead,
  parseRequestHead,
  hostnameOf,
  H_HOST,
  H_CONTENT_LENGTH,
  H_TRANSFER_ENCODING,
  H_CONNECTION,
  H_HOP,
  H_UPGRADE,
  H_EXPECT,
  H_X_FORWARDED_FOR,
  H_X_REAL_IP,
  H_FORWARDED,
  H_SY_TRACE,
  BODY_NONE,
  BODY_LENGTH,
  BODY_CHUNKED,
} from './parse/request-head.ts';
export { ResponseHead, parseResponseHead, BODY_UNTIL_CLOSE } from './parse/response-head.ts';
export { ChunkedDecoder } from './parse/chunked.ts';
export { findHeadEnd, equalsLower } from './parse/chars.ts';
export type { RateLeaseRequest, RateLeaseReply } from './filters/index.ts';
