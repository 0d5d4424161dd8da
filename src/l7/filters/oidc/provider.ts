// The issuer as the filter uses it, one per process (env.shared): its metadata from discovery (fetched on
// first use, cached an hour, fetched again when a call to it failed — with backoff so a provider that is
// down is not hammered), its signing keys (jose's remote JWKS, cached and refetched on an unknown kid) and
// the token endpoint. Calls go through one undici Agent with the configured timeout and CA. undici and jose
// are imported on first use: together they add ~20 MB to a process, which a worker without an oidc route
// does not pay (docs/operations.md, "Memory").
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import type { Agent } from 'undici';
import type { JWTPayload, RemoteJWKSet } from 'jose';

export interface ProviderMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  end_session_endpoint?: string;
}

export interface TokenSet {
  id_token?: string;
  refresh_token?: string;
  expires_in?: number;
}

/** The provider answered and refused (invalid_grant, invalid_client…): a login or refresh that cannot succeed. */
export class TokenRefused extends Error {}

const METADATA_TTL_MS = 3_600_000;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;
const MAX_BODY = 256 * 1024;

export interface ProviderOptions {
  issuer: string;
  /** Absolute path of a PEM bundle, or undefined for the system CAs. */
  caFile: string | undefined;
  timeoutMs: number;
  now: () => number;
}

export class OidcProvider {
  private readonly options: ProviderOptions;
  private agent: Promise<Agent> | undefined;
  private cached: ProviderMetadata | undefined;
  private fetchedAt = 0;
  private pending: Promise<ProviderMetadata> | undefined;
  private failures = 0;
  private retryAt = 0;
  private lastError: Error | undefined;
  private keys: { uri: string; set: RemoteJWKSet } | undefined;

  constructor(options: ProviderOptions) {
    this.options = options;
  }

  /** The metadata: cached, or fetched now (one fetch at a time); rejects while backing off after a failure with no cached copy. */
  metadata(): Promise<ProviderMetadata> {
    const now = this.options.now();
    if (this.cached !== undefined && now - this.fetchedAt < METADATA_TTL_MS) return Promise.resolve(this.cached);
    if (this.pending !== undefined) return this.pending;
    if (now < this.retryAt) return this.cached !== undefined ? Promise.resolve(this.cached) : Promise.reject(this.lastError ?? new Error('discovery backing off'));
    this.pending = this.discover().then(
      (metadata) => {
        this.cached = metadata;
        this.fetchedAt = this.options.now();
        this.failures = 0;
        this.pending = undefined;
        return metadata;
      },
      (error: Error) => {
        this.failures++;
        this.lastError = error;
        this.retryAt = this.options.now() + Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.failures - 1));
        this.pending = undefined;
        // an expired copy is better than none while the provider is away
        if (this.cached !== undefined) return this.cached;
        throw error;
      },
    );
    return this.pending;
  }

  /** A call to the provider failed for a reason other than a refusal: discover again on next use. */
  stale(): void {
    this.fetchedAt = 0;
  }

  /** Verifies an ID token's signature (keys from jwks_uri), issuer, audience and expiry. */
  async verifyIdToken(token: string, metadata: ProviderMetadata, clientId: string): Promise<JWTPayload> {
    if (this.keys === undefined || this.keys.uri !== metadata.jwks_uri) {
      const agent = await this.dispatcher();
      const [{ createRemoteJWKSet, customFetch }, { fetch: undiciFetch }] = await Promise.all([import('jose'), import('undici')]);
      const set = createRemoteJWKSet(new URL(metadata.jwks_uri), {
        timeoutDuration: this.options.timeoutMs,
        [customFetch]: (url: string, init: object) => undiciFetch(url, { ...init, dispatcher: agent }) as unknown as Promise<Response>,
      });
      this.keys = { uri: metadata.jwks_uri, set };
    }
    const { jwtVerify } = await import('jose');
    const { payload } = await jwtVerify(token, this.keys.set, { issuer: metadata.issuer, audience: clientId, clockTolerance: 30 });
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== clientId) throw new Error('ID token azp is not this client');
    return payload;
  }

  /** POSTs a grant to the token endpoint; TokenRefused when the provider says no. */
  async token(metadata: ProviderMetadata, form: URLSearchParams, clientId: string, secret: string | undefined): Promise<TokenSet> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (secret !== undefined) {
      // client_secret_basic: both parts form-urlencoded first (RFC 6749 2.3.1)
      const user = encodeURIComponent(clientId).replace(/%20/g, '+');
      const pass = encodeURIComponent(secret).replace(/%20/g, '+');
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    } else {
      form.set('client_id', clientId);
    }
    let status: number;
    let body: unknown;
    try {
      const { request } = await import('undici');
      const response = await request(metadata.token_endpoint, { method: 'POST', headers, body: form.toString(), dispatcher: await this.dispatcher(), headersTimeout: this.options.timeoutMs, bodyTimeout: this.options.timeoutMs });
      status = response.statusCode;
      body = await readJson(response.body);
    } catch (error) {
      this.stale();
      throw error;
    }
    if (status >= 500) {
      this.stale();
      throw new Error(`token endpoint answered ${status}`);
    }
    const fields = (body ?? {}) as Record<string, unknown>;
    if (status !== 200) throw new TokenRefused(`token endpoint answered ${status} ${typeof fields.error === 'string' ? fields.error : ''}`.trim());
    const set: TokenSet = {};
    if (typeof fields.id_token === 'string') set.id_token = fields.id_token;
    if (typeof fields.refresh_token === 'string') set.refresh_token = fields.refresh_token;
    if (typeof fields.expires_in === 'number' && Number.isFinite(fields.expires_in)) set.expires_in = fields.expires_in;
    return set;
  }

  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    if (agent !== undefined) await (await agent.catch(() => undefined))?.close();
  }

  private async discover(): Promise<ProviderMetadata> {
    const url = `${this.options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const { request } = await import('undici');
    const response = await request(url, { dispatcher: await this.dispatcher(), headersTimeout: this.options.timeoutMs, bodyTimeout: this.options.timeoutMs, headers: { accept: 'application/json' } });
    const body = (await readJson(response.body)) as Record<string, unknown> | undefined;
    if (response.statusCode !== 200 || body === undefined) throw new Error(`discovery at ${url} answered ${response.statusCode}`);
    const text = (name: string): string | undefined => (typeof body[name] === 'string' ? (body[name] as string) : undefined);
    // OpenID Connect Discovery 4.3: the issuer in the document must be the one configured
    if (text('issuer') !== this.options.issuer) throw new Error(`discovery at ${url} names issuer ${JSON.stringify(text('issuer'))}, expected ${this.options.issuer}`);
    const metadata: ProviderMetadata = { issuer: this.options.issuer, authorization_endpoint: '', token_endpoint: '', jwks_uri: '' };
    for (const name of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
      const value = text(name);
      if (value === undefined || !/^https?:\/\//.test(value)) throw new Error(`discovery at ${url} has no ${name}`);
      metadata[name] = value;
    }
    const endSession = text('end_session_endpoint');
    if (endSession !== undefined && /^https?:\/\//.test(endSession)) metadata.end_session_endpoint = endSession;
    return metadata;
  }

  private dispatcher(): Promise<Agent> {
    this.agent ??= (async () => {
      const ca = this.options.caFile === undefined ? undefined : [...rootCertificates, await readFile(this.options.caFile, 'utf8')];
      const { Agent } = await import('undici');
      return new Agent({ connect: { timeout: this.options.timeoutMs, ...(ca === undefined ? {} : { ca }) }, headersTimeout: this.options.timeoutMs, bodyTimeout: this.options.timeoutMs });
    })();
    // a CA file that could not be read is tried again on the next use
    this.agent.catch(() => (this.agent = undefined));
    return this.agent;
  }
}

async function readJson(body: AsyncIterable<Buffer> & { dump?: () => Promise<void> }): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error('provider answer too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
