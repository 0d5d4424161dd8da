// `tls.self_signed: true` (development): a local CA created once under the data directory, and a leaf
// certificate for the listener's route hosts signed by it. Both are reused on restart; the leaf is
// re-issued only when it no longer covers the hosts, is close to expiry, or was signed by another CA.
//
// Why the openssl CLI and not an npm library (node-forge, @peculiar/x509): Node can make keys but not
// X.509 certificates; the openssl binary is on every Debian machine, is the reference implementation, and
// runs only here at start-up (never on the request path), so it costs no dependency and no bundle weight.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { setTimeout as pause } from 'node:timers/promises';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { EdgeError, messageOf } from '../core/index.ts';
import { namesOf } from './certificate-pair.ts';

export interface SelfSignedPaths {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
  /** Whether this call created the CA or the leaf (so the caller can tell the user once). */
  createdCa: boolean;
  createdLeaf: boolean;
}

const renewWithinMs = 30 * 24 * 3600 * 1000;

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err) reject(new EdgeError('SY_ERR_TLS_SELF_SIGNED', `tls self_signed: openssl ${args[0]} failed: ${stderr.trim().split('\n').pop() ?? messageOf(err)}`, { source: 'internal', cause: err }));
      else resolve();
    });
  });
}

async function readCertificate(file: string): Promise<X509Certificate | undefined> {
  try {
    return new X509Certificate(await readFile(file));
  } catch {
    return undefined;
  }
}

const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * Creates the CA in a private temporary directory, then renames it into place: a rename onto an existing
 * CA directory fails, so two processes starting at once end up sharing whichever CA landed first.
 */
async function ensureCa(tlsDir: string): Promise<boolean> {
  const caDir = path.join(tlsDir, 'ca');
  if (await readCertificate(path.join(caDir, 'ca.pem'))) return false;
  const tmp = await mkdtemp(path.join(tlsDir, '.ca-'));
  try {
    await openssl(['req', '-x509', '-new', ...keyArgs, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650',
      '-subj', '/CN=Switchyard Local Development CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], tmp);
    await rm(caDir, { recursive: true, force: true }).catch(() => undefined);
    await rename(tmp, caDir);
    return true;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (await readCertificate(path.join(caDir, 'ca.pem'))) return false;
    throw err;
  }
}

function covers(leaf: X509Certificate, ca: X509Certificate, hosts: readonly string[], now: number): boolean {
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return false;
  if (Date.parse(leaf.validTo) - now < renewWithinMs) return false;
  const names = new Set(namesOf(leaf));
  return hosts.every((host) => names.has(host));
}

/** SAN entry for a host: IP literals as IP:, names (wildcards included) as DNS:. */
function sanOf(host: string): string {
  return /^[\d.]+$/.test(host) || host.includes(':') ? `IP:${host}` : `DNS:${host}`;
}

/** A lock older than this was left by a process that died while holding it (openssl runs are bounded to 30 s each). */
const STALE_LOCK_MS = 90_000;
/** How long a process waits for another one's certificates before it gives up. */
const LOCK_WAIT_MS = 120_000;

/**
 * Runs `work` while holding `<tlsDir>/.lock` (created exclusively): every worker of an instance makes sure of
 * the same CA and leaf at start, and without it one could read a key the other was replacing, or pair one
 * process's key with the other's certificate. The others wait, then find the files made. Start-up only.
 */
async function holdingLock<T>(tlsDir: string, work: () => Promise<T>): Promise<T> {
  const lock = path.join(tlsDir, '.lock');
  const giveUpAt = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = await stat(lock).catch(() => undefined);
      if (held !== undefined && Date.now() - held.mtimeMs > STALE_LOCK_MS) await rm(lock, { force: true });
      else if (Date.now() > giveUpAt) throw new EdgeError('SY_ERR_TLS_SELF_SIGNED', `tls self_signed: ${lock} is held by another process (remove it if none runs)`, { source: 'internal' });
      // polled: start-up only, and another process's openssl run is what is waited for
      else await pause(50);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

/**
 * Ensures `<dataDir>/tls/ca/{ca.pem,ca.key}` and `<dataDir>/tls/<name>.{pem,key}` exist and cover `hosts`.
 * Start-up only: spawns openssl at most twice; processes starting at once take turns (holdingLock).
 */
export async function ensureSelfSigned(dataDir: string, name: string, hosts: readonly string[], now = Date.now()): Promise<SelfSignedPaths> {
  const tlsDir = path.join(dataDir, 'tls');
  await mkdir(tlsDir, { recursive: true, mode: 0o700 });
  return holdingLock(tlsDir, () => ensureUnderLock(tlsDir, name, hosts, now));
}

async function ensureUnderLock(tlsDir: string, name: string, hosts: readonly string[], now: number): Promise<SelfSignedPaths> {
  const createdCa = await ensureCa(tlsDir);
  const caCert = path.join(tlsDir, 'ca', 'ca.pem');
  const caKey = path.join(tlsDir, 'ca', 'ca.key');
  const cert = path.join(tlsDir, `${name}.pem`);
  const key = path.join(tlsDir, `${name}.key`);
  const ca = await readCertificate(caCert);
  if (!ca) throw new EdgeError('SY_ERR_TLS_SELF_SIGNED', `tls self_signed: cannot read ${caCert}`, { source: 'internal' });
  const existing = await readCertificate(cert);
  if (existing && covers(existing, ca, hosts, now)) return { caCert, caKey, cert, key, createdCa, createdLeaf: false };

  const tmp = await mkdtemp(path.join(tlsDir, `.${name}-`));
  try {
    const subjectHost = hosts.find((host) => !host.startsWith('*.')) ?? 'localhost';
    await openssl(['req', '-x509', '-new', ...keyArgs, '-keyout', 'leaf.key', '-out', 'leaf.pem', '-days', '825',
      '-subj', `/CN=${subjectHost}`, '-CA', caCert, '-CAkey', caKey,
      '-addext', `subjectAltName=${hosts.map(sanOf).join(',')}`,
      '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature',
      '-addext', 'extendedKeyUsage=serverAuth'], tmp);
    // key first: a reader that sees the new certificate also finds its key
    await rename(path.join(tmp, 'leaf.key'), key);
    await rename(path.join(tmp, 'leaf.pem'), cert);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { caCert, caKey, cert, key, createdCa, createdLeaf: true };
}

/** The hosts a listener's self-signed leaf must cover: every route's match.host, plus loopback names. */
export function selfSignedHosts(routes: readonly { match: { host?: string | string[] } }[] | undefined): string[] {
  const hosts = new Set<string>(['localhost', '127.0.0.1', '::1']);
  for (const route of routes ?? []) {
    const host = route.match.host;
    if (typeof host === 'string') hosts.add(host);
    else for (const one of host ?? []) hosts.add(one);
  }
  return [...hosts];
}
