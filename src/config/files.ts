// Checks of the files a config names, run at load after the schema and cross-checks (so `check`, start and
// reload refuse the same things): static roots are directories, certificates and keys are readable PEM
// that belong together, pools' CA files are readable PEM certificates, the jwt filter's key and secret
// files hold usable keys and forward_auth's CA file certificates, basic_auth users files hold only strong
// hashes, an existing admin token file is private and long enough, and jemalloc is
// installed when `allocator: jemalloc` asks for it. Start-up and reload
// only (async I/O, a few files).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigIssue } from './cross-check.ts';
import type { Config, MiddlewareConfig, MiddlewareEntry, MiddlewareSettings } from './schema/index.ts';
import { JEMALLOC_PATHS, adminTokenProblem, parseUsersText, readJwtKeys, readJwtSecret } from '../core/index.ts';

/** Where the admin token lives: token_file relative to data_dir, itself relative to the config file. */
export function adminTokenPath(config: Config, baseDir: string): string | undefined {
  return config.admin ? path.resolve(baseDir, config.data_dir, config.admin.token_file) : undefined;
}

const errnoOf = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

async function directoryProblem(dir: string): Promise<string | undefined> {
  try {
    return (await stat(dir)).isDirectory() ? undefined : `${dir} is not a directory`;
  } catch (err) {
    return `${dir}: ${errnoOf(err)}`; // read after "expected a directory to serve, got"
  }
}

interface PairProblem {
  /** cert or key: the field at fault. */
  key: 'cert' | 'key';
  message: string;
}

/** The certificate and key are readable, parse as PEM, and the key is the certificate's. */
async function pemPairProblem(certFile: string, keyFile: string): Promise<PairProblem | undefined> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readFile(certFile));
  } catch (err) {
    return { key: 'cert', message: `expected a readable PEM certificate, got ${certFile}: ${errnoOf(err)}` };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(await readFile(keyFile)))) return { key: 'key', message: `expected the private key of ${certFile}, got ${keyFile}, which is another key` };
  } catch (err) {
    return { key: 'key', message: `expected a readable PEM private key, got ${keyFile}: ${errnoOf(err)}` };
  }
  return undefined;
}

/** A pool's tls.ca is a readable file of PEM certificates (each one is parsed; a bundle holds several). */
async function caProblem(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'latin1');
  } catch (err) {
    return `expected a readable PEM CA certificate, got ${file}: ${errnoOf(err)}`;
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return `expected PEM CA certificates, got ${file}, which holds none`;
  try {
    for (const block of blocks) new X509Certificate(block);
  } catch (err) {
    return `expected PEM CA certificates, got ${file}: ${errnoOf(err)}`;
  }
  return undefined;
}

async function tokenFileProblem(file: string): Promise<string | undefined> {
  let mode: number;
  let token: string;
  try {
    mode = (await stat(file)).mode;
    token = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    // A missing token file is generated at start.
    return errnoOf(err) === 'ENOENT' ? undefined : `cannot read ${file}: ${errnoOf(err)}`;
  }
  return adminTokenProblem(file, mode, token);
}

/** The files a filter names (jwt keys and secret, forward_auth's CA, basic_auth's users), read as the filter will read them. */
function middlewareFileIssues(entry: MiddlewareEntry, at: (string | number)[], resolve: (file: string) => string): Promise<ConfigIssue | undefined>[] {
  const issue = (key: string, problem: string | undefined): ConfigIssue | undefined => (problem === undefined ? undefined : { path: [...at, key], message: problem });
  if (entry.name === 'jwt') {
    const settings = entry.settings as MiddlewareSettings['jwt'];
    if (settings.keys_file !== undefined) {
      const keys = readJwtKeys(resolve(settings.keys_file));
      return [Promise.resolve(issue('keys_file', typeof keys === 'string' ? keys : undefined))];
    }
    if (settings.secret_file !== undefined) {
      const secret = readJwtSecret(resolve(settings.secret_file));
      return [Promise.resolve(issue('secret_file', typeof secret === 'string' ? secret : undefined))];
    }
  }
  if (entry.name === 'forward_auth') {
    const ca = (entry.settings as MiddlewareSettings['forward_auth']).ca_file;
    if (ca !== undefined) return [caProblem(resolve(ca)).then((problem) => issue('ca_file', problem))];
  }
  if (entry.name === 'basic_auth') {
    const file = (entry.settings as MiddlewareSettings['basic_auth']).users_file;
    return [usersFileProblem(resolve(file)).then((problem) => issue('users_file', problem))];
  }
  return [];
}

/** A basic_auth users file is readable and every line is `user:` a bcrypt or scrypt hash (core/htpasswd.ts). */
async function usersFileProblem(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return `expected a readable users file, got ${file}: ${errnoOf(err)}`;
  }
  const users = parseUsersText(text, file);
  return typeof users === 'string' ? users : undefined;
}

export async function fileIssues(config: Config, baseDir: string): Promise<ConfigIssue[]> {
  const checks: Promise<ConfigIssue | undefined>[] = [];
  const resolve = (file: string): string => path.resolve(baseDir, file);
  config.listeners.forEach((listener, index) => {
    listener.routes?.forEach((route, routeIndex) => {
      if (!route.static) return;
      const root = resolve(route.static.root);
      checks.push(directoryProblem(root).then((problem) => (problem ? { path: ['listeners', index, 'routes', routeIndex, 'static', 'root'], message: `expected a directory to serve, got ${problem}` } : undefined)));
    });
    const lists: [(string | number)[], MiddlewareConfig | undefined][] = [[['listeners', index, 'middleware'], listener.middleware]];
    listener.routes?.forEach((route, routeIndex) => lists.push([['listeners', index, 'routes', routeIndex, 'middleware'], route.middleware]));
    for (const [at, list] of lists) list?.forEach((entry, entryIndex) => checks.push(...middlewareFileIssues(entry, [...at, entryIndex, entry.name], resolve)));
    listener.tls?.certificates.forEach((certificate, certIndex) => {
      const at = ['listeners', index, 'tls', 'certificates', certIndex];
      checks.push(pemPairProblem(resolve(certificate.cert), resolve(certificate.key)).then((problem) => (problem ? { path: [...at, problem.key], message: problem.message } : undefined)));
    });
  });
  config.dns?.tls?.certificates.forEach((certificate, certIndex) => {
    const at = ['dns', 'tls', 'certificates', certIndex];
    checks.push(pemPairProblem(resolve(certificate.cert), resolve(certificate.key)).then((problem) => (problem ? { path: [...at, problem.key], message: problem.message } : undefined)));
  });
  config.listeners.forEach((listener, index) => {
    const ca = listener.tls?.acme?.ca;
    if (ca !== undefined) checks.push(caProblem(resolve(ca)).then((problem) => (problem ? { path: ['listeners', index, 'tls', 'acme', 'ca'], message: problem } : undefined)));
  });
  for (const [name, pool] of Object.entries(config.pools)) {
    const ca = pool.tls?.ca;
    if (ca !== undefined) checks.push(caProblem(resolve(ca)).then((problem) => (problem ? { path: ['pools', name, 'tls', 'ca'], message: problem } : undefined)));
  }
  if (config.admin?.tls) {
    const { cert, key } = config.admin.tls;
    checks.push(pemPairProblem(resolve(cert), resolve(key)).then((problem) => (problem ? { path: ['admin', 'tls', problem.key], message: problem.message } : undefined)));
  }
  if (config.runtime.allocator === 'jemalloc' && config.workers !== 0) {
    const found = Promise.all(JEMALLOC_PATHS.map((file) => access(file).then(() => true, () => false))).then((exists) => exists.includes(true));
    checks.push(found.then((ok) => (ok ? undefined : { path: ['runtime', 'allocator'], message: `expected libjemalloc.so.2 for allocator: jemalloc, got none in ${JEMALLOC_PATHS.join(', ')} (Debian: apt-get install libjemalloc2; or allocator: auto)` })));
  }
  const tokenFile = adminTokenPath(config, baseDir);
  if (tokenFile) checks.push(tokenFileProblem(tokenFile).then((problem) => (problem ? { path: ['admin', 'token_file'], message: problem } : undefined)));
  return (await Promise.all(checks)).filter((issue): issue is ConfigIssue => issue !== undefined);
}
