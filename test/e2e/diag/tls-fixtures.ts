// Certificates for the trace tests, made with openssl in a temp dir: a test CA, a server certificate for
// localhost / app.example.test / edge.example.test / 127.0.0.1 signed by it, and an expired one.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsFixtures {
  dir: string;
  caFile: string;
  key: Buffer;
  cert: Buffer;
  expiredCert: Buffer;
}

export async function makeTlsFixtures(): Promise<TlsFixtures> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-trace-'));
  const at = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir, timeout: 20_000 });
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/O=Switchyard Tests/CN=Switchyard Test CA');
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  await writeFile(at('ext'), 'subjectAltName=DNS:localhost,DNS:app.example.test,DNS:edge.example.test,IP:127.0.0.1\n');
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '10', '-extfile', 'ext');
  // OpenSSL 3.0's x509 cannot backdate; `openssl ca` can
  await mkdir(at('db'));
  await writeFile(at('db/index.txt'), '');
  await writeFile(at('db/serial'), '1000\n');
  await writeFile(at('ca.cnf'), '[ca]\ndefault_ca=t\n[t]\ndatabase=db/index.txt\nnew_certs_dir=db\nserial=db/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n');
  await openssl('ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-in', 'server.csr', '-out', 'expired.crt',
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-notext', '-extfile', 'ext');
  return { dir, caFile: at('ca.crt'), key: await readFile(at('server.key')), cert: await readFile(at('server.crt')), expiredCert: await readFile(at('expired.crt')) };
}
