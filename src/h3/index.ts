// HTTP/3: QUIC + HTTP/3 framing in a native addon over Debian's ngtcp2/nghttp3 (native/quic_h3.c), and the
// frontend that hands each request stream to an https listener's exchange (one more downstream of the
// same pipeline as HTTP/1.1 and HTTP/2). The supervisor gives createH3Frontend to https listeners with
// `http3: true`; config checks refuse such listeners when the addon is missing (h3AddonProblem).
export { H3Frontend, createH3Frontend, type H3FrontendDeps, type H3FrontendStatus, type ParsedRequest } from './frontend.ts';
export { h3Addon, h3AddonProblem, H3_PACKAGES, type H3Addon, type H3Stats } from './addon.ts';
