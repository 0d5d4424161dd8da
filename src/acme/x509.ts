// The X.509 pieces ACME needs, through @peculiar/x509 over WebCrypto: a certificate key (P-256), the
// PKCS #10 request for finalize (RFC 8555 7.4: the names as subjectAltName), and the temporary
// self-signed certificate a listener serves until the CA has issued one. Control plane only.
import { createHash, KeyObject, webcrypto } from 'node:crypto';
// @peculiar/x509 resolves its algorithm classes through tsyringe, which needs the Reflect metadata API;
// the polyfill adds it to the global Reflect (loaded only with this module, in the control plane)
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
/** Node's WebCrypto, as the library's parameter type (the DOM's Crypto, which Node's types do not declare). */
const provider = webcrypto as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[1];

export interface KeyAndCsr {
  /** PKCS #8 PEM of the new certificate key. */
  keyPem: string;
  /** DER of the certificate request. */
  csrDer: Buffer;
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function keyPem(keys: CryptoKeyPair): string {
  return KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** CN: the first name that fits (64 characters, RFC 5280); the names that count are in subjectAltName. */
function subjectOf(hosts: readonly string[]): string {
  const short = hosts.find((host) => host.length <= 64);
  return short === undefined ? '' : `CN=${short}`;
}

function sanOf(hosts: readonly string[]): x509.SubjectAlternativeNameExtension {
  return new x509.SubjectAlternativeNameExtension(hosts.map((host) => ({ type: 'dns' as const, value: host })));
}

/** A fresh key and a CSR for `hosts`, signed with it (a new key at every issuance: renewal rotates keys). */
export async function keyAndCsr(hosts: readonly string[]): Promise<KeyAndCsr> {
  const keys = await newKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: subjectOf(hosts), keys, signingAlgorithm: ecdsa, extensions: [sanOf(hosts)] }, provider);
  return { keyPem: keyPem(keys), csrDer: Buffer.from(csr.rawData) };
}

/** id-pe-acmeIdentifier (RFC 8737 6.1). */
const acmeIdentifierOid = '1.3.6.1.5.5.7.1.31';

/**
 * The tls-alpn-01 certificate for `name` (RFC 8737 3): self-signed, the name as its only subjectAltName, and
 * the critical acmeIdentifier extension holding SHA-256 of the key authorization (DER OCTET STRING).
 */
export async function alpnChallengeCertificate(name: string, keyAuthorization: string, now: number): Promise<{ certPem: string; keyPem: string }> {
  const keys = await newKeyPair();
  const digest = createHash('sha256').update(keyAuthorization).digest();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: `CN=${name.length <= 64 ? name : 'acme-tls-alpn-01'}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      keys,
      signingAlgorithm: ecdsa,
      extensions: [sanOf([name]), new x509.Extension(acmeIdentifierOid, true, Buffer.concat([Buffer.from([0x04, digest.length]), digest]))],
    },
    provider,
  );
  return { certPem: cert.toString('pem') + '\n', keyPem: keyPem(keys) };
}

export const placeholderIssuer = 'Switchyard temporary certificate (ACME pending)';

/**
 * A self-signed certificate for `hosts`, valid for `days`, to serve while the first order runs: clients
 * get a TLS handshake (and a certificate error) instead of a connection reset.
 */
export async function placeholderCertificate(hosts: readonly string[], now: number, days = 7): Promise<{ certPem: string; keyPem: string }> {
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
      name: `CN=${placeholderIssuer}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + days * 86_400_000),
      keys,
      signingAlgorithm: ecdsa,
      extensions: [sanOf(hosts), new x509.BasicConstraintsExtension(false, undefined, true), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth])],
    },
    provider,
  );
  return { certPem: cert.toString('pem') + '\n', keyPem: keyPem(keys) };
}
