// HTTP/2: the frontend (TLS ALPN h2 and h2c prior knowledge), upstream h2/h2c/gRPC, and gRPC proxying.
export { H2Frontend, type StreamContext, type StreamDispatcher, type H2FrontendDeps, type H2FrontendStatus } from './frontend.ts';
export { http2ServerOptions } from './server-options.ts';
export { grpcStatus, isGrpc, parseGrpcTimeout, respondGrpcStatus } from './grpc.ts';
