// The TLS phase of `switchyard trace`: the handshake over an already connected socket, what it agreed
// (version, cipher, ALPN) and the server's certificate, then the same verification a client makes (chain
// and host name), worded as one line when it fails.
import tls from 'node:tls';
import type net from 'node:net';
import { DiagError } from './errors.ts';

export interface CertificateInfo {
  subject: string;
  issuer: string;
  subjectAltName?: string;
  validFrom: string;
  validTo: string;
  /** Days until expiry (negative once expired). */
  daysLeft: number;
  fingerprint256: string;
}

export interface TlsInfo {
  version: string;
  cipher: string;
  alpn: string | false;
  servername?: string;
  certificate?: CertificateInfo;
  verified: boolean;
  /** Why verification failed, when --insecure let the trace go on anyway. */
  verifyError?: string;
}

const names = (fields: Record<string, string | string[]> | undefined): string =>
  Object.entries(fields ?? {}).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`).join(', ');

export function certificateInfo(cert: tls.PeerCertificate, now: number): CertificateInfo | undefined {
  if (!cert || !cert.subject) return undefined;
  const validTo = new Date(cert.valid_to);
  return {
    subject: names(cert.subject as any),
    issuer: names(cert.issuer as any),
    subjectAltName: cert.subjectaltname,
    validFrom: new Date(cert.valid_from).toISOString(),
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - now) / 86_400_000),
    fingerprint256: cert.fingerprint256,
  };
}

const unknownAuthority = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT']);

/** The verification verdict in words, or undefined when the certificate is trusted for this host. */
export function verifyProblem(socket: tls.TLSSocket, host: string, cert: CertificateInfo | undefined): string | undefined {
  const code = socket.authorizationError ? String((socket.authorizationError as any).code ?? socket.authorizationError) : undefined;
  if (code && unknownAuthority.has(code)) return `certificate signed by an unknown authority (${code}), issuer ${cert?.issuer || '?'}; trust it with --cacert FILE or skip checks with --insecure`;
  if (code === 'CERT_HAS_EXPIRED') return `certificate expired on ${cert?.validTo ?? '?'} (CERT_HAS_EXPIRED)`;
  if (code === 'CERT_NOT_YET_VALID') return `certificate not valid before ${cert?.validFrom ?? '?'} (CERT_NOT_YET_VALID)`;
  if (code && code !== 'ERR_TLS_CERT_ALTNAME_INVALID') return `certificate not trusted (${code})`;
  const mismatch = tls.checkServerIdentity(host, socket.getPeerCertificate());
  if (mismatch) return `certificate is for ${cert?.subjectAltName ?? cert?.subject ?? '?'}, not ${host} (${(mismatch as any).code ?? 'ERR_TLS_CERT_ALTNAME_INVALID'})`;
  return undefined;
}

export interface TlsOptions {
  socket: net.Socket;
  host: string;
  insecure: boolean;
  /** Built before the clock starts: loading CA certificates is set-up, not handshake time. */
  secureContext: tls.SecureContext;
  alpn: string[];
}

/**
 * Handshakes on `socket`; resolves once verified (or, with insecure, always), rejects with DiagError('TLS').
 * Verification runs after the handshake (rejectUnauthorized off) so the failure can name the certificate.
 */
export function handshake(options: TlsOptions, onSocket: (socket: tls.TLSSocket) => void): Promise<{ socket: tls.TLSSocket; info: TlsInfo }> {
  return new Promise((resolve, reject) => {
    const servername = /^[\d.]+$|:/.test(options.host) ? undefined : options.host;
    const socket = tls.connect({ socket: options.socket, servername, ALPNProtocols: options.alpn, rejectUnauthorized: false, secureContext: options.secureContext });
    onSocket(socket);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ECONNRESET' ? 'the server closed the connection during the handshake (ECONNRESET)' : err.message.replace(/^[^:]*routines:/, '');
      reject(new DiagError('TLS', `handshake with ${options.host} failed: ${why}`, err));
    });
    socket.once('secureConnect', () => {
      const cipher = socket.getCipher();
      const certificate = certificateInfo(socket.getPeerCertificate(), Date.now());
      const problem = verifyProblem(socket, options.host, certificate);
      const info: TlsInfo = {
        version: socket.getProtocol() ?? 'unknown',
        cipher: cipher.standardName ?? cipher.name,
        alpn: socket.alpnProtocol ?? false,
        servername,
        certificate,
        verified: !problem,
        verifyError: problem,
      };
      if (problem && !options.insecure) {
        socket.destroy();
        reject(new DiagError('TLS', problem));
        return;
      }
      resolve({ socket, info });
    });
  });
}
