// TlsTerminator: everything an https listener needs from TLS — the tls.Server options (policy, ALPN, SNI),
// session resumption, certificate reload on file change, the self-signed development CA, and the HSTS value.
// Build with the listener config; start() does the file I/O; attach(server) wires a tls.Server to it.
import path from 'node:path';
import type { Server as TlsServer, TlsOptions, SecureContext } from 'node:tls';
import type { TlsConfig } from '../config/index.ts';
import { EdgeError, messageOf, systemClock, type Clock, type Logger } from '../core/index.ts';
import { loadPair, normalizeIp, policyOptions, type ContextPolicy, type CertificateSource, type LoadedPair } from './certificate-pair.ts';
import { SniTable } from './sni.ts';
import { FileWatch } from './file-watch.ts';
import { SessionResumption } from './session-resumption.ts';
import { ensureSelfSigned, selfSignedHosts } from './self-signed.ts';
import { alpnOf, hstsHeaderValue, minVersionOf } from './policy.ts';

export interface TlsTerminatorDeps {
  /** Absolute data directory (config `data_dir` resolved): where the self-signed CA lives. */
  dataDir: string;
  /** Directory relative certificate paths resolve against (the config file's). */
  baseDir: string;
  logger: Logger;
  clock?: Clock;
  /** Shared by all workers so session tickets resume on any of them; see SessionResumption. */
  ticketSeed?: Buffer;
  /** Handshake must finish within this (ms); default the listener's header timeout. */
  handshakeTimeoutMs?: number;
}

export interface ReloadResult {
  ok: boolean;
  error?: string;
  certificates: number;
}

export interface TlsStatus {
  certificates: { cert: string; hosts: string[]; valid_to: string; fingerprint256: string; default: boolean }[];
  ca?: string;
  last_reload?: { at: string; ok: boolean; error?: string };
  /** Completed handshakes by protocol version ("TLSv1.3"), full and resumed (session ticket or id). */
  handshakes: Record<string, { full: number; resumed: number }>;
}

/**
 * What a terminator needs of its listener: an https listener's config, or a DNS-over-TLS endpoint (which
 * has no routes, no HSTS and its own ALPN id, "dot").
 */
export interface TlsEndpoint {
  name: string;
  tls?: Omit<TlsConfig, 'alpn'> & { alpn: readonly string[] };
  /** Hosts the self-signed certificate covers besides the loopback names (an https listener: its routes'). */
  routes?: readonly { match: { host?: string | string[] } }[];
  timeouts: { header: number };
}

interface Loaded {
  pairs: LoadedPair[];
  defaultPair: LoadedPair;
  table: SniTable;
}

export class TlsTerminator {
  readonly listenerName: string;
  /** Strict-Transport-Security value for responses on this listener; undefined when hsts is off. */
  readonly hsts: string | undefined;
  readonly alpn: string[];
  /** Self-signed mode: the CA certificate a user should trust (set by start()). */
  caPath: string | undefined;

  private readonly listener: TlsEndpoint;
  private readonly deps: TlsTerminatorDeps;
  private readonly clock: Clock;
  private readonly policy: ContextPolicy;
  private readonly resumption: SessionResumption;
  private readonly servers = new Set<TlsServer>();
  private readonly reloadListeners: ((result: ReloadResult) => void)[] = [];
  private sources: { source: CertificateSource; isDefault: boolean }[] = [];
  private loaded: Loaded | undefined;
  private watch: FileWatch | undefined;
  private lastReload: TlsStatus['last_reload'];
  private readonly handshakes: TlsStatus['handshakes'] = {};
  private reloading: Promise<ReloadResult> | undefined;

  constructor(listener: TlsEndpoint, deps: TlsTerminatorDeps) {
    if (!listener.tls) throw new EdgeError('SY_ERR_TLS_CONFIG', `listener ${listener.name}: tls settings missing`, { source: 'config' });
    this.listener = listener;
    this.listenerName = listener.name;
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.hsts = hstsHeaderValue(listener.tls);
    this.alpn = alpnOf(listener.tls);
    this.policy = { minVersion: minVersionOf(listener.tls), sessionIdContext: `switchyard:${listener.name}`.slice(0, 32) };
    this.resumption = new SessionResumption({ clock: this.clock, ticketSeed: deps.ticketSeed, sessionCache: listener.tls.session_cache });
  }

  /** Generates the self-signed pair when asked, loads every certificate, starts watching the files. */
  async start(): Promise<void> {
    const tls = this.listener.tls!;
    const sources: { source: CertificateSource; isDefault: boolean }[] = tls.certificates.map((certificate) => ({
      source: { cert: certificate.cert, key: certificate.key, hosts: certificate.hosts },
      isDefault: certificate.default,
    }));
    if (tls.self_signed) {
      const hosts = selfSignedHosts(this.listener.routes).map(normalizeIp);
      const generated = await ensureSelfSigned(this.deps.dataDir, this.listener.name, hosts, this.clock.now());
      this.caPath = generated.caCert;
      // every start says where the CA is: a user who missed the first run still finds it
      const what = generated.createdCa || generated.createdLeaf ? 'generated a self-signed certificate' : 'self-signed certificate';
      this.deps.logger.info({ listener: this.listenerName, ca: generated.caCert, cert: generated.cert }, `tls ${this.listenerName}: ${what}; trust ${generated.caCert} to use it`);
      sources.push({ source: { cert: generated.cert, key: generated.key, hosts }, isDefault: !sources.some((one) => one.isDefault) });
    }
    if (sources.length === 0) {
      throw new EdgeError('SY_ERR_TLS_CONFIG', `tls ${this.listenerName}: expected certificates or self_signed: true`, { source: 'config' });
    }
    this.sources = sources;
    this.loaded = await this.loadAll();
    const files = sources.flatMap(({ source }) => [source.cert, source.key]).map((file) => this.resolve(file));
    this.watch = new FileWatch(files, () => void this.reload(), this.clock);
    this.watch.start((err) => this.deps.logger.warn({ listener: this.listenerName, err: messageOf(err) }, `tls ${this.listenerName}: cannot watch certificate files`));
  }

  private resolve(file: string): string {
    return path.resolve(this.deps.baseDir, file);
  }

  private async loadAll(): Promise<Loaded> {
    const pairs = await Promise.all(this.sources.map(({ source }) => loadPair(source, this.deps.baseDir, this.policy)));
    const defaultIndex = Math.max(0, this.sources.findIndex((one) => one.isDefault));
    const entry = (pair: LoadedPair) => ({ hosts: pair.hosts, context: pair.context, name: pair.certFile });
    const defaultPair = pairs[defaultIndex];
    return { pairs, defaultPair, table: new SniTable(pairs.map(entry), entry(defaultPair)) };
  }

  /**
   * The certificates as PEM pairs, the default first: HTTP/3's TLS (GnuTLS, in src/h3's addon) takes PEM and
   * picks the certificate by SNI itself, the first one when no name matches.
   */
  pemPairs(): { cert: Buffer; key: Buffer }[] {
    const { pairs, defaultPair } = this.current();
    return [defaultPair, ...pairs.filter((pair) => pair !== defaultPair)].map((pair) => ({ cert: pair.certPem, key: pair.keyPem }));
  }

  /** The secure context for a server name (what SNICallback answers). */
  contextFor(servername: string | undefined): SecureContext {
    return this.current().table.lookup(servername).context;
  }

  private current(): Loaded {
    if (!this.loaded) throw new EdgeError('SY_ERR_TLS_NOT_STARTED', `tls ${this.listenerName}: start() has not finished`, { source: 'internal' });
    return this.loaded;
  }

  /** Options for tls.createServer: the default certificate, the policy, ALPN and SNI. Call after start(). */
  serverOptions(): TlsOptions {
    const { defaultPair } = this.current();
    return {
      ...policyOptions(this.policy),
      cert: defaultPair.certPem,
      key: defaultPair.keyPem,
      ALPNProtocols: this.alpn,
      SNICallback: (servername, done) => done(null, this.contextFor(servername)),
      handshakeTimeout: this.deps.handshakeTimeoutMs ?? this.listener.timeouts.header,
      sessionTimeout: this.resumption.sessionTimeoutSeconds,
      ticketKeys: this.resumption.currentTicketKeys(),
    };
  }

  /** Wires a server made from serverOptions(): ticket rotation, session cache, reload of its default context. */
  attach(server: TlsServer): void {
    this.servers.add(server);
    this.resumption.attach(server);
    server.once('close', () => this.servers.delete(server));
  }

  /**
   * Reads every certificate again and swaps them in when all load; a broken file keeps the previous set
   * and the reason is logged. Open connections keep the context they handshook with.
   */
  reload(): Promise<ReloadResult> {
    // one reload at a time; a change during a reload is picked up by the next watch event
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async doReload(): Promise<ReloadResult> {
    let result: ReloadResult;
    try {
      const loaded = await this.loadAll();
      this.loaded = loaded;
      for (const server of this.servers) {
        server.setSecureContext({ ...policyOptions(this.policy), cert: loaded.defaultPair.certPem, key: loaded.defaultPair.keyPem });
        this.resumption.attach(server);
      }
      result = { ok: true, certificates: loaded.pairs.length };
      this.deps.logger.info({ listener: this.listenerName, certificates: loaded.pairs.length }, `tls ${this.listenerName}: certificates reloaded`);
    } catch (err) {
      result = { ok: false, error: messageOf(err), certificates: this.loaded?.pairs.length ?? 0 };
      this.deps.logger.warn({ listener: this.listenerName, err: messageOf(err) }, `tls ${this.listenerName}: reload failed, keeping the previous certificates: ${messageOf(err)}`);
    }
    this.lastReload = { at: new Date(this.clock.now()).toISOString(), ok: result.ok, error: result.error };
    for (const listener of this.reloadListeners) listener(result);
    return result;
  }

  /** The listener calls this on each 'secureConnection': a counter bump, read by status(). */
  handshakeDone(socket: { getProtocol(): string | null; isSessionReused(): boolean }): void {
    const version = socket.getProtocol() ?? 'unknown';
    let counts = this.handshakes[version];
    if (counts === undefined) this.handshakes[version] = counts = { full: 0, resumed: 0 };
    if (socket.isSessionReused()) counts.resumed++;
    else counts.full++;
  }

  /** Called after every reload attempt (file change or explicit). */
  onReload(listener: (result: ReloadResult) => void): void {
    this.reloadListeners.push(listener);
  }

  status(): TlsStatus {
    const loaded = this.loaded;
    return {
      certificates: (loaded?.pairs ?? []).map((pair) => ({
        cert: pair.certFile,
        hosts: pair.hosts,
        valid_to: pair.validTo,
        fingerprint256: pair.fingerprint256,
        default: pair === loaded?.defaultPair,
      })),
      ca: this.caPath,
      last_reload: this.lastReload,
      handshakes: this.handshakes,
    };
  }

  async stop(): Promise<void> {
    this.watch?.stop();
    this.watch = undefined;
    this.resumption.stop();
    this.servers.clear();
  }
}

export function createTlsTerminator(listener: TlsEndpoint, deps: TlsTerminatorDeps): TlsTerminator {
  return new TlsTerminator(listener, deps);
}
