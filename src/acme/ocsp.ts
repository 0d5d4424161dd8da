// OCSP for stapling: the control plane asks the CA's responder (the URL in the leaf's Authority
// Information Access) about the certificate it serves, and a "good" answer is stored beside it for the
// workers to staple. Through the openssl CLI, like the self-signed CA of src/tls: it builds the request,
// speaks HTTP to the responder and prints the status; this runs a few times a day per certificate,
// never on the request path. The response's signature is not checked here: clients check it.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EdgeError } from '../core/index.ts';

export interface OcspAnswer {
  der: Buffer;
  status: 'good' | 'revoked' | 'unknown';
  /** Epoch ms of the response's nextUpdate, when it has one. */
  nextUpdate: number | undefined;
}

/** The OCSP responder URL of a leaf, or undefined when it names none. */
export function ocspUrlOf(leaf: X509Certificate): string | undefined {
  const match = /OCSP - URI:(\S+)/.exec(leaf.infoAccess ?? '');
  return match?.[1];
}

function pemBlocks(chain: string): string[] {
  return chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function run(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new EdgeError('SY_ERR_ACME_OCSP', `ocsp: openssl ocsp failed: ${(stderr || stdout).trim().split('\n').pop() ?? err.message}`, { source: 'upstream', retry: 'retryable' }));
      else resolve(`${stdout}\n${stderr}`);
    });
  });
}

/**
 * Asks the responder about the chain's leaf (the issuer is the chain's second certificate). Undefined when
 * the leaf names no responder; throws when the responder cannot be asked or gives no usable answer.
 */
export async function fetchOcsp(chainPem: string, workDir: string, timeoutMs = 15_000): Promise<OcspAnswer | undefined> {
  const [leafPem, issuerPem] = pemBlocks(chainPem);
  if (leafPem === undefined) throw new EdgeError('SY_ERR_ACME_OCSP', 'ocsp: no certificate in the chain', { source: 'internal' });
  const url = ocspUrlOf(new X509Certificate(leafPem));
  if (url === undefined) return undefined;
  if (issuerPem === undefined) throw new EdgeError('SY_ERR_ACME_OCSP', 'ocsp: the chain has no issuer certificate after the leaf', { source: 'upstream' });
  const dir = await mkdtemp(path.join(workDir, '.ocsp-'));
  try {
    const leafFile = path.join(dir, 'leaf.pem');
    const issuerFile = path.join(dir, 'issuer.pem');
    const out = path.join(dir, 'response.der');
    await Promise.all([writeFile(leafFile, leafPem), writeFile(issuerFile, issuerPem)]);
    const text = await run(['ocsp', '-issuer', issuerFile, '-cert', leafFile, '-url', url, '-respout', out, '-noverify', '-timeout', String(Math.ceil(timeoutMs / 1000))], timeoutMs + 1000);
    const status = new RegExp(`${leafFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (good|revoked|unknown)`).exec(text)?.[1] as OcspAnswer['status'] | undefined;
    if (status === undefined) throw new EdgeError('SY_ERR_ACME_OCSP', `ocsp: ${url}: no certificate status in the answer: ${text.trim().split('\n')[0]}`, { source: 'upstream', retry: 'retryable' });
    const next = /Next Update: (.+)/.exec(text)?.[1];
    const nextUpdate = next === undefined ? undefined : Date.parse(next);
    return { der: await readFile(out), status, nextUpdate: Number.isNaN(nextUpdate) ? undefined : nextUpdate };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
