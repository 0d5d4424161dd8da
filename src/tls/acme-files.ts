// Where a listener's ACME certificate lives: written by src/acme in the control plane (a temporary
// self-signed pair first, then each issued one, by rename), read and watched by the listener's
// TlsTerminator in every traffic plane. One directory per listener and set of names: its watch sees only
// its own files, and a reload that changes the names writes elsewhere than the running listener reads.
import { createHash } from 'node:crypto';
import path from 'node:path';

export interface AcmeCertificateFiles {
  dir: string;
  cert: string;
  key: string;
  /** What src/acme knows of the certificate (issuer, names, dates); absent while the temporary one is served. */
  meta: string;
  /** The CA's latest "good" OCSP response for the certificate (DER), stapled when present. */
  ocsp: string;
}

export function acmeCertificateFiles(dataDir: string, listenerName: string, hosts: readonly string[]): AcmeCertificateFiles {
  const names = createHash('sha256').update([...hosts].sort().join(',')).digest('hex').slice(0, 12);
  const dir = path.join(dataDir, 'acme', 'certificates', `${listenerName}-${names}`);
  return { dir, cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), meta: path.join(dir, 'meta.json'), ocsp: path.join(dir, 'ocsp.der') };
}
