// UpstreamTlsClient: the client side of TLS to an HTTP/1.1 pool's backends (`pools.X.tls`), compiled once
// per config: one SecureContext holding the pool's CA (read once, asynchronously, by load(); a reload
// builds a new client and so reads the file again) and the policy's floor (TLS 1.2+). Connections use it
// as is, with SNI (tls.servername, else the backend's host when it is a name) and ALPN http/1.1. The
// upstream connector (connect()) and the HTTP health probe (connectOptions()) connect with it.
// node:tls (~5 MB of resident memory) is imported by load(): a worker without TLS pools never loads it.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import type * as TlsModule from 'node:tls';
import type { ConnectionOptions, SecureContext, TLSSocket } from 'node:tls';
import { EdgeError, messageOf } from '../core/index.ts';

/** `pools.X.tls` as the schema gives it. */
export interface UpstreamTlsConfig {
  ca?: string;
  servername?: string;
  verify: boolean;
}

const ALPN = ['http/1.1'];

export class UpstreamTlsClient {
  readonly pool: string;
  readonly config: UpstreamTlsConfig;
  /**
   * What connections of this client may share with another client's (idle keep-alive sockets, session
   * tickets): same CA file, server name and verification. Two pools with one backend address but another
   * server name never share a socket.
   */
  readonly key: string;
  /** Set once load() has read the CA; until then (and after a failed load) connections cannot start. */
  context: SecureContext | undefined;
  /** Why load() failed (the CA file could not be read or parsed). */
  error: EdgeError | undefined;
  /** SHA-256 of the CA file as load() read it ('' without `ca`): tells whether a reload changed the trust. */
  caDigest = '';
  private loading: Promise<void> | undefined;
  private tls: typeof TlsModule | undefined;
  private readonly waiting: (() => void)[] = [];

  constructor(pool: string, config: UpstreamTlsConfig) {
    this.pool = pool;
    this.config = config;
    this.key = `tls|${config.ca ?? ''}|${config.servername ?? ''}|${config.verify ? 'verify' : 'noverify'}`;
  }

  /** True until load() has finished, either way. */
  get pending(): boolean {
    return this.context === undefined && this.error === undefined;
  }

  /** Reads the CA (relative paths against `baseDir`) and builds the context; later calls return the first call's promise. */
  load(baseDir: string): Promise<void> {
    this.loading ??= this.read(baseDir).then(
      (context) => this.settle(context, undefined),
      (err: unknown) => this.settle(undefined, new EdgeError('SY_ERR_UPSTREAM_TLS', `pool ${this.pool}: cannot use tls.ca ${this.config.ca}: ${messageOf(err)}`, { source: 'config', cause: err })),
    );
    return this.loading;
  }

  /** Runs `then` once load() has finished (at once when it has). */
  whenLoaded(then: () => void): void {
    if (this.pending) this.waiting.push(then);
    else then();
  }

  private async read(baseDir: string): Promise<SecureContext> {
    const ca = this.config.ca === undefined ? undefined : await readFile(path.resolve(baseDir, this.config.ca));
    if (ca !== undefined) this.caDigest = createHash('sha256').update(ca).digest('hex');
    this.tls = await import('node:tls');
    // without `ca` the context trusts Node's bundled roots, as https.request would
    return this.tls.createSecureContext({ ca, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
  }

  private settle(context: SecureContext | undefined, error: EdgeError | undefined): void {
    this.context = context;
    this.error = error;
    for (const then of this.waiting.splice(0)) then();
  }

  /** The server name sent as SNI and checked against the certificate: tls.servername, else the host unless it is an IP. */
  servernameFor(host: string): string | undefined {
    return this.config.servername ?? (net.isIP(host) === 0 ? host : undefined);
  }

  /**
   * tls.connect options for one backend (call after load()). `session`: a ticket from an earlier connection
   * to the same backend, so the handshake resumes.
   */
  connectOptions(host: string, port: number, session: Buffer | undefined): ConnectionOptions {
    // the certificate's names are checked against `servername` when there is one, else against `host`
    return {
      host,
      port,
      secureContext: this.context,
      servername: this.servernameFor(host),
      ALPNProtocols: ALPN,
      rejectUnauthorized: this.config.verify,
      session,
    };
  }

  /** A TLS connection to one backend (after load() succeeded); `extra`: socket options such as onread. */
  connect(host: string, port: number, session: Buffer | undefined, extra: object): TLSSocket {
    return this.tls!.connect({ ...this.connectOptions(host, port, session), ...extra });
  }
}
