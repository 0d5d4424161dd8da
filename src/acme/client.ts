// AcmeClient: the protocol side of RFC 8555 — the directory, replay nonces, JWS-signed POSTs (ES256, the
// account key as `jwk` until the account URL is known, then `kid`), and the account itself. Knows nothing
// of orders or challenges (order.ts) or of files (store.ts). Runs in the control plane only, never on the
// request path. HTTP goes through an undici Agent of its own, trusting `ca` when the config names one.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import { FlattenedSign, calculateJwkThumbprint, type JWK } from 'jose';
import { EdgeError } from '../core/index.ts';

export interface AcmeDirectory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert?: string;
  keyChange?: string;
  meta?: { termsOfService?: string; externalAccountRequired?: boolean };
}

export interface AcmeResponse<T = unknown> {
  status: number;
  location: string | undefined;
  /** Seconds the server asked to wait (Retry-After), when it said. */
  retryAfter: number | undefined;
  body: T;
}

export interface AcmeClientOptions {
  directoryUrl: string;
  /** PEM certificates to trust for the CA's TLS; undefined: the system's. */
  ca?: Buffer;
  /** The account key (P-256). */
  accountKey: KeyObject;
  /** Per HTTP request. */
  timeoutMs?: number;
}

const joseJson = 'application/jose+json';
/** badNonce is the one error every client must retry (RFC 8555 6.5); a server may send it at random. */
const maxNonceRetries = 5;
/** Bodies are JSON documents or a certificate chain: anything larger is not from a CA. */
const maxBodyBytes = 1024 * 1024;

export class AcmeProblem extends EdgeError {
  readonly type: string;
  readonly problem: unknown;
  constructor(url: string, status: number, problem: { type?: string; detail?: string } | undefined) {
    const type = problem?.type ?? 'about:blank';
    super('SY_ERR_ACME_PROBLEM', `acme: ${url}: ${status} ${type.replace('urn:ietf:params:acme:error:', '')}${problem?.detail ? `: ${problem.detail}` : ''}`, { source: 'upstream', retry: 'retryable' });
    this.type = type;
    this.problem = problem;
  }
}

async function readBody(body: Dispatcher.ResponseData['body']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) {
      body.destroy();
      throw new EdgeError('SY_ERR_ACME_RESPONSE', `acme: response body over ${maxBodyBytes} bytes`, { source: 'upstream', retry: 'retryable' });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function retryAfterOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

export class AcmeClient {
  readonly directoryUrl: string;
  private readonly key: KeyObject;
  private readonly jwk: JWK;
  private readonly dispatcher: Agent;
  private readonly timeoutMs: number;
  private directory: AcmeDirectory | undefined;
  private nonces: string[] = [];
  /** The account URL (RFC 8555 7.3), set by account(). */
  private kid: string | undefined;

  constructor(options: AcmeClientOptions) {
    this.directoryUrl = options.directoryUrl;
    this.key = options.accountKey;
    const { kty, crv, x, y } = createPublicKey(options.accountKey).export({ format: 'jwk' });
    this.jwk = { kty, crv, x, y };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.dispatcher = new Agent({ connect: options.ca ? { ca: options.ca } : {}, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
  }

  /** RFC 8555 8.1: base64url(SHA-256 of the account key's JWK) — the second half of every key authorization. */
  thumbprint(): Promise<string> {
    return calculateJwkThumbprint(this.jwk, 'sha256');
  }

  async getDirectory(): Promise<AcmeDirectory> {
    if (this.directory) return this.directory;
    const response = await this.send('GET', this.directoryUrl);
    const directory = JSON.parse(response.body.toString('utf8')) as AcmeDirectory;
    if (typeof directory.newNonce !== 'string' || typeof directory.newAccount !== 'string' || typeof directory.newOrder !== 'string') {
      throw new EdgeError('SY_ERR_ACME_DIRECTORY', `acme: ${this.directoryUrl}: not an ACME directory (newNonce, newAccount, newOrder missing)`, { source: 'upstream', retry: 'retryable' });
    }
    this.directory = directory;
    return directory;
  }

  /** Creates the account, or finds it again for this key (a CA answers 200 with the same URL). */
  async account(contact: readonly string[]): Promise<string> {
    if (this.kid) return this.kid;
    const directory = await this.getDirectory();
    const payload: Record<string, unknown> = { termsOfServiceAgreed: true };
    if (contact.length > 0) payload.contact = contact;
    const response = await this.post(directory.newAccount, payload, true);
    if (response.location === undefined) throw new EdgeError('SY_ERR_ACME_ACCOUNT', 'acme: newAccount answered without a Location', { source: 'upstream', retry: 'retryable' });
    this.kid = response.location;
    return this.kid;
  }

  /** A signed POST with a JSON payload; `undefined` payload is POST-as-GET (RFC 8555 6.3). Parses JSON answers. */
  async post<T = Record<string, unknown>>(url: string, payload: unknown, useJwk = false): Promise<AcmeResponse<T>> {
    const response = await this.signedPost(url, payload, useJwk, 'application/json');
    const type = response.contentType;
    const body = type.includes('json') && response.body.length > 0 ? (JSON.parse(response.body.toString('utf8')) as T) : (response.body.toString('utf8') as T);
    return { status: response.status, location: response.location, retryAfter: response.retryAfter, body };
  }

  /** POST-as-GET of a certificate URL: the PEM chain (RFC 8555 7.4.2). */
  async downloadCertificate(url: string): Promise<string> {
    const response = await this.signedPost(url, undefined, false, 'application/pem-certificate-chain');
    return response.body.toString('utf8');
  }

  private async signedPost(url: string, payload: unknown, useJwk: boolean, accept: string) {
    for (let attempt = 0; ; attempt++) {
      const nonce = await this.nonce();
      const protectedHeader: Record<string, unknown> = { alg: 'ES256', nonce, url };
      if (useJwk || this.kid === undefined) protectedHeader.jwk = this.jwk;
      else protectedHeader.kid = this.kid;
      const bytes = payload === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(payload));
      const jws = await new FlattenedSign(bytes).setProtectedHeader(protectedHeader).sign(this.key);
      const response = await this.send('POST', url, JSON.stringify(jws), accept);
      if (response.status < 400) return response;
      const problem = response.contentType.includes('json') ? (JSON.parse(response.body.toString('utf8') || '{}') as { type?: string; detail?: string }) : undefined;
      if (problem?.type === 'urn:ietf:params:acme:error:badNonce' && attempt < maxNonceRetries) continue;
      throw new AcmeProblem(url, response.status, problem);
    }
  }

  private async nonce(): Promise<string> {
    const kept = this.nonces.pop();
    if (kept !== undefined) return kept;
    const directory = await this.getDirectory();
    const response = await this.send('HEAD', directory.newNonce);
    const fresh = this.nonces.pop();
    if (fresh === undefined) throw new EdgeError('SY_ERR_ACME_NONCE', `acme: ${directory.newNonce} gave no Replay-Nonce (status ${response.status})`, { source: 'upstream', retry: 'retryable' });
    return fresh;
  }

  private async send(method: 'GET' | 'HEAD' | 'POST', url: string, body?: string, accept = 'application/json') {
    const headers: Record<string, string> = { 'user-agent': 'switchyard-acme', accept };
    if (body !== undefined) headers['content-type'] = joseJson;
    const response = await request(url, { method, headers, body, dispatcher: this.dispatcher, signal: AbortSignal.timeout(this.timeoutMs) });
    const nonce = header(response.headers, 'replay-nonce');
    // every response may carry a fresh nonce (RFC 8555 6.5); keep it for the next request
    if (nonce !== undefined) this.nonces.push(nonce);
    const data = method === 'HEAD' ? Buffer.alloc(0) : await readBody(response.body);
    if (method === 'HEAD') await response.body.dump();
    if (method === 'GET' && response.statusCode >= 400) {
      throw new EdgeError('SY_ERR_ACME_DIRECTORY', `acme: GET ${url}: status ${response.statusCode}`, { source: 'upstream', retry: 'retryable' });
    }
    return {
      status: response.statusCode,
      location: header(response.headers, 'location'),
      retryAfter: retryAfterOf(header(response.headers, 'retry-after')),
      contentType: header(response.headers, 'content-type') ?? '',
      body: data,
    };
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
