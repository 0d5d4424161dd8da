// The TLS policy every https listener shares: versions, cipher suites, curves, ALPN and HSTS.
// Fixed here rather than configurable so that no config can weaken it (issue 3: TLS 1.2+ and AEAD only).
import type { TlsConfig } from '../config/index.ts';

/**
 * TLS 1.2 suites: forward secrecy (ECDHE) and AEAD (GCM, ChaCha20-Poly1305) only, server order.
 * TLS 1.3 suites are all AEAD; they are listed so that the order is ours and CCM suites stay off.
 * Anything else (CBC, RSA key exchange, 3DES, RC4, NULL, anonymous) is refused in the handshake.
 */
export const cipherSuites = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const ecdhCurves = 'X25519:prime256v1:secp384r1';

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** The configured minimum, never below TLS 1.2 whatever the caller passes. */
export function minVersionOf(config: Pick<TlsConfig, 'min_version'>): TlsVersion {
  return config.min_version === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2';
}

/** ALPN protocol ids offered, in server preference order (h2 before http/1.1 unless the config says otherwise). */
export function alpnOf(config: { alpn: readonly string[] }): string[] {
  return config.alpn.length > 0 ? [...config.alpn] : ['h2', 'http/1.1'];
}

/** Strict-Transport-Security value, computed once per config; undefined when HSTS is off. */
export function hstsHeaderValue(config: Pick<TlsConfig, 'hsts'>): string | undefined {
  const hsts = config.hsts;
  if (hsts === false) return undefined;
  const options = hsts === true ? { max_age: 31_536_000_000, include_subdomains: false, preload: false } : hsts;
  let value = `max-age=${Math.floor(options.max_age / 1000)}`;
  if (options.include_subdomains) value += '; includeSubDomains';
  if (options.preload) value += '; preload';
  return value;
}

/**
 * Alt-Svc for the TCP responses of an https listener serving HTTP/3 on the same port (RFC 7838, RFC 9114
 * §3.1.1), or undefined without `http3`. The port must be the bound one (port 0 resolved).
 */
export function altSvcHeaderValue(listener: { listen: { port: number }; http3: { enabled: boolean; alt_svc_max_age: number } }): string | undefined {
  if (!listener.http3.enabled || listener.listen.port === 0) return undefined;
  return `h3=":${listener.listen.port}"; ma=${Math.floor(listener.http3.alt_svc_max_age / 1000)}`;
}
