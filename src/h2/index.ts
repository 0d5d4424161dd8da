// HTTP/2: the https (TLS + ALPN h2/http1.1) and h2c listeners, the HTTP/2 frontends (our codec and node:http2), upstream h2/h2c/gRPC
// sessions, and gRPC proxying. The supervisor registers createH2Listener for protocols https and h2c.
export { H2Listener, createH2Listener, type H2ListenerDeps, type PoolLookup } from './listener.ts';
export { CodecFrontend, type CodecFrontendDeps } from './codec/frontend.ts';
export { H2Frontend, type StreamContext, type StreamDispatcher, type StreamCloseListener, type H2FrontendDeps, type H2FrontendStatus } from './frontend.ts';
export { H2UpstreamSessions, type UpstreamTarget } from './upstream/sessions.ts';
export { http2ServerOptions } from './server-options.ts';
export { grpcStatus, isGrpc, parseGrpcTimeout, formatGrpcTimeout, respondGrpcStatus } from './grpc.ts';
export { grpcProbe, healthCheckRequest, servingStatusOf } from './grpc-health-probe.ts';
export { H2ForeignUpstreams, proxyForeignExchange } from './foreign-upstream.ts';
