// TLS termination for https listeners: policy (TLS 1.2+, AEAD suites), SNI, resumption, reload, self-signed CA.
export { TlsTerminator, createTlsTerminator, type TlsTerminatorDeps, type ReloadResult, type TlsStatus, type TlsEndpoint } from './terminator.ts';
export { cipherSuites, hstsHeaderValue, altSvcHeaderValue, minVersionOf, alpnOf } from './policy.ts';
export { ensureSelfSigned, selfSignedHosts, type SelfSignedPaths } from './self-signed.ts';
export { SniTable, type SniEntry } from './sni.ts';
export { ticketKeysFor } from './session-resumption.ts';
export { UpstreamTlsClient, type UpstreamTlsConfig } from './upstream-client.ts';
