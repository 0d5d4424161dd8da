// One certificate chain + private key from disk → a SecureContext with the shared policy, plus the host
// names it serves. Reading is async (start-up and reload only); a bad pair throws with a message that says
// which file and why, so the caller can keep the previous context and log it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import ipaddr from 'ipaddr.js';
import { EdgeError, messageOf } from '../core/index.ts';
import { cipherSuites, ecdhCurves, type TlsVersion } from './policy.ts';

export interface CertificateSource {
  cert: string;
  key: string;
  hosts?: readonly string[];
  /** An OCSP response (DER) to staple for this certificate, when the file exists (tls.acme keeps one). */
  ocsp?: string;
}

export interface LoadedPair {
  certFile: string;
  keyFile: string;
  hosts: string[];
  context: SecureContext;
  /** PEM text, kept for the server's default context (tls.Server takes PEM, not a SecureContext). */
  certPem: Buffer;
  keyPem: Buffer;
  /** Leaf certificate's notAfter and fingerprint, for status and reload logs. */
  validTo: string;
  fingerprint256: string;
  /** The leaf in DER (to recognise it in an OCSPRequest) and the response to staple for it, if any. */
  leafDer: Buffer;
  ocsp: Buffer | undefined;
}

export interface ContextPolicy {
  minVersion: TlsVersion;
  /** Session id context: same for all contexts of a listener so that resumption works across SNI names. */
  sessionIdContext: string;
}

/** Options every context of a listener is built with: the policy of policy.ts, nothing per certificate. */
export function policyOptions(policy: ContextPolicy) {
  return {
    minVersion: policy.minVersion,
    maxVersion: 'TLSv1.3' as const,
    ciphers: cipherSuites,
    ecdhCurve: ecdhCurves,
    honorCipherOrder: true,
    sessionIdContext: policy.sessionIdContext,
  };
}

function failure(message: string, cause?: unknown): EdgeError {
  return new EdgeError('SY_ERR_TLS_CERTIFICATE', message, { source: 'config', cause });
}

/** IPv6 in one canonical form ("::1"), so that SAN entries compare equal to config text. */
export function normalizeIp(text: string): string {
  return ipaddr.isValid(text) ? ipaddr.parse(text).toString() : text.toLowerCase();
}

/** DNS names of the leaf: subjectAltName DNS entries, or the CN when there is no SAN (old certificates). */
export function namesOf(leaf: X509Certificate): string[] {
  const names: string[] = [];
  for (const part of (leaf.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) names.push(part.slice(4).toLowerCase());
    else if (part.startsWith('IP Address:')) names.push(normalizeIp(part.slice(11)));
  }
  if (names.length === 0) {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject);
    if (cn) names.push(cn[1].toLowerCase());
  }
  return names;
}

export async function loadPair(source: CertificateSource, baseDir: string, policy: ContextPolicy): Promise<LoadedPair> {
  const certFile = path.resolve(baseDir, source.cert);
  const keyFile = path.resolve(baseDir, source.key);
  let certPem: Buffer;
  let keyPem: Buffer;
  try {
    [certPem, keyPem] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  } catch (err) {
    throw failure(`tls: cannot read ${(err as NodeJS.ErrnoException).path ?? certFile}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`, err);
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certPem);
  } catch (err) {
    throw failure(`tls: ${certFile}: not a PEM certificate: ${messageOf(err)}`, err);
  }
  try {
    createPrivateKey(keyPem);
  } catch (err) {
    throw failure(`tls: ${keyFile}: not a PEM private key: ${messageOf(err)}`, err);
  }
  if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) {
    throw failure(`tls: ${keyFile}: private key does not match the certificate in ${certFile}`);
  }
  let context: SecureContext;
  try {
    context = createSecureContext({ ...policyOptions(policy), cert: certPem, key: keyPem });
  } catch (err) {
    throw failure(`tls: ${certFile}: ${messageOf(err)}`, err);
  }
  const hosts = source.hosts && source.hosts.length > 0 ? [...source.hosts] : namesOf(leaf);
  let ocsp: Buffer | undefined;
  if (source.ocsp !== undefined) {
    // optional: no file means nothing to staple
    ocsp = await readFile(path.resolve(baseDir, source.ocsp)).catch(() => undefined);
  }
  return { certFile, keyFile, hosts, context, certPem, keyPem, validTo: leaf.validTo, fingerprint256: leaf.fingerprint256, leafDer: leaf.raw, ocsp };
}
