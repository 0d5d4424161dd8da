// ACME state under data_dir: account keys (one per CA directory) and each listener's certificate files
// (paths from src/tls, which watches them). Every write goes to a temporary file renamed into place, key
// before certificate, so a traffic plane reloading in between sees the old pair or the new one; a key that
// does not match its certificate only fails one reload, and the certificate's rename triggers the next.
import { createHash, createPrivateKey, generateKeyPair, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { nodeUtil } from '../core/index.ts';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { acmeCertificateFiles, type AcmeCertificateFiles } from '../tls/index.ts';

/** What the store knows of an issued certificate (meta.json beside it). */
export interface IssuedMeta {
  directory: string;
  hosts: string[];
  not_before: string;
  not_after: string;
  issued_at: string;
}

/** A listener and the names of its certificate: together they choose the files. */
export interface CertificateOwner {
  name: string;
  hosts: readonly string[];
}

export interface StoredCertificate {
  meta: IssuedMeta | undefined;
  leaf: X509Certificate | undefined;
}

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, file);
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export class AcmeStore {
  readonly dataDir: string;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  files(owner: CertificateOwner): AcmeCertificateFiles {
    return acmeCertificateFiles(this.dataDir, owner.name, owner.hosts);
  }

  /** The account key for a CA directory, created (P-256, mode 0600) on first use. */
  async accountKey(directory: string): Promise<KeyObject> {
    const dir = path.join(this.dataDir, 'acme', 'accounts');
    const file = path.join(dir, `${createHash('sha256').update(directory).digest('hex').slice(0, 16)}.key`);
    const existing = await readText(file);
    if (existing !== undefined) return createPrivateKey(existing);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = await nodeUtil.promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
    await writeAtomic(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
    // two processes creating at once: both renamed, the last one is the key; read it back
    return createPrivateKey((await readText(file))!);
  }

  async read(owner: CertificateOwner): Promise<StoredCertificate> {
    const files = this.files(owner);
    const [metaText, certText] = await Promise.all([readText(files.meta), readText(files.cert)]);
    let leaf: X509Certificate | undefined;
    try {
      leaf = certText === undefined ? undefined : new X509Certificate(certText);
    } catch {
      leaf = undefined;
    }
    let meta: IssuedMeta | undefined;
    try {
      meta = metaText === undefined ? undefined : ((JSON.parse(metaText) as IssuedMeta | null) ?? undefined);
    } catch {
      meta = undefined;
    }
    return { meta, leaf };
  }

  /** Stores the OCSP response the workers staple for the current certificate. */
  async writeOcsp(owner: CertificateOwner, der: Buffer): Promise<void> {
    const file = this.files(owner).ocsp;
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, der, { mode: 0o644 });
    await rename(tmp, file);
  }

  /** Writes a pair: key, then certificate, then meta (absent meta: a temporary certificate). */
  async write(owner: CertificateOwner, pair: { certPem: string; keyPem: string }, meta: IssuedMeta | undefined): Promise<void> {
    const files = this.files(owner);
    await mkdir(files.dir, { recursive: true, mode: 0o700 });
    // the previous certificate's OCSP response must not be stapled for the new one
    await rm(files.ocsp, { force: true });
    await writeAtomic(files.key, pair.keyPem, 0o600);
    await writeAtomic(files.cert, pair.certPem, 0o644);
    if (meta !== undefined) await writeAtomic(files.meta, `${JSON.stringify(meta, null, 2)}\n`, 0o644);
    else await writeAtomic(files.meta, 'null\n', 0o644);
  }
}
