// Where a listener's ACME certificate lives: written by src/acme in the control plane (a temporary
// self-signed pair first, then each issued one, by rename), read and watched by the listener's
// TlsTerminator in every traffic plane. One directory per listener so its watch sees only its own files.
import path from 'node:path';

export interface AcmeCertificateFiles {
  dir: string;
  cert: string;
  key: string;
  /** What src/acme knows of the certificate (issuer, names, dates); absent while the temporary one is served. */
  meta: string;
}

export function acmeCertificateFiles(dataDir: string, listenerName: string): AcmeCertificateFiles {
  const dir = path.join(dataDir, 'acme', 'certificates', listenerName);
  return { dir, cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), meta: path.join(dir, 'meta.json') };
}
