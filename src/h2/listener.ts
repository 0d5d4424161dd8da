// The https and h2c listeners. https: TLS (src/tls) with ALPN on one port — h2 goes to the HTTP/2
// frontend, http/1.1 (or no ALPN) to the L7 core's HTTP/1.1 connection handler. h2c: HTTP/2 with prior
// knowledge; a connection that does not open with the HTTP/2 preface is served as HTTP/1.1 instead.
// Both share one L7 HttpListener (router, forwarded headers, upstream pools, access log) per listener.
// An https listener with `http3` also serves HTTP/3 on its port over UDP (src/h3, made by the factory the
// supervisor passes in deps.http3), whose streams go to the same exchange as HTTP/2's.
import net, { type Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { ListenerConfig, PoolConfig } from '../config/index.ts';
import { EdgeError, messageOf, type Clock, type Logger } from '../core/index.ts';
import { createHttpListener, upstreamSettingsFromPools, type ConnectionTimes, type ExchangeDownstream, type ExchangeHandle, type ExchangeRequest, type HttpListener, type HttpListenerDeps, type UpstreamPool } from '../l7/index.ts';
import { altSvcHeaderValue, createTlsTerminator, type TlsTerminator, type TlsTerminatorDeps } from '../tls/index.ts';
import { ConnectionGate, carryClient } from '../listener/index.ts';
import { H2Frontend, type H2FrontendStatus } from './frontend.ts';
import { CodecFrontend } from './codec/frontend.ts';
import { StreamDispatch } from './dispatch.ts';
import { H2UpstreamSessions } from './upstream/sessions.ts';
import { proxyForeignExchange } from './foreign-upstream.ts';
import { requestFields } from './codec/request-fields.ts';
import { appendResponseFields } from './headers.ts';

/** The pool registry as this listener uses it (src/pool's PoolRegistry fits). */
export interface PoolLookup {
  names(): string[];
  get(name: string): UpstreamPool | undefined;
}

/** What an https listener gives its HTTP/3 side (src/h3 H3FrontendDeps has this shape). */
export interface Http3Hooks {
  exchange(request: ExchangeRequest, downstream: ExchangeDownstream, encrypted: boolean, localPort: number): ExchangeHandle;
  parseRequest(list: readonly string[]): { method: string; authority: string; path: string; fields: string[]; contentLength: number } | null;
  responseFields(out: string[], flat: readonly string[], extra?: Readonly<Record<string, string>>): string[];
  certificates(): { cert: Buffer; key: Buffer }[];
  logger: Logger;
  secretSeed?: Buffer;
  responseHeaders?: Readonly<Record<string, string>>;
}

/** The HTTP/3 side of an https listener with `http3: true` (src/h3 H3Frontend). */
export interface Http3Endpoint {
  start(port: number): void;
  readonly port: number;
  updateConfig(listener: ListenerConfig, responseHeaders: Readonly<Record<string, string>> | undefined): void;
  certificatesChanged(): void;
  drain(deadline: number): Promise<void>;
  stop(): Promise<void>;
  status(): unknown;
}

/** Made by the supervisor from src/h3 (imported only for configs with http3 listeners). */
export type Http3Factory = (listener: ListenerConfig, hooks: Http3Hooks) => Http3Endpoint;

/** HTTP/3 carries the HTTP/2 field rules (RFC 9114 §4.2–4.3); CONNECT (a tunnel) is not served over HTTP/3. */
function parseH3Request(list: readonly string[]): ReturnType<Http3Hooks['parseRequest']> {
  // requestFields makes its list the fields: a copy, as the HTTP/3 frontend hands its list as read-only
  const fields = requestFields(list.slice());
  return fields === null || fields.method === 'CONNECT' || fields.scheme !== 'https' ? null : fields;
}

/** Same shape as the supervisor's ListenerDeps. */
export interface H2ListenerDeps {
  pools: PoolLookup;
  logger: Logger;
  accessLog: Logger;
  clock: Clock;
  dataDir: string;
  baseDir: string;
  /** The pools section: keep-alive settings of the HTTP/1.1 upstream path (L7). */
  poolConfigs?: Readonly<Record<string, PoolConfig>>;
  /** Shared by workers so TLS session tickets resume on any of them. */
  ticketSeed?: Buffer;
  /** The admin token: requests carrying it get the edge's Server-Timing phases (L7). */
  traceToken?: string;
  /** Called once per finished request (metrics). */
  onRequestDone?: HttpListenerDeps['onRequestDone'];
  /** Telemetry's view of the access records (L7). */
  spans?: HttpListenerDeps['spans'];
  /** The filters `middleware:` names are built from (L7); default the built-in ones. */
  filters?: HttpListenerDeps['filters'];
  /** The DNS engine `dns` routes (DNS over HTTPS) ask, through the L7 core. */
  dns?: HttpListenerDeps['dns'];
  /** HTTP/3 for `http3: true` (src/h3); a listener that asks for it without one is refused. */
  http3?: Http3Factory;
  /** ACME tls-alpn-01 challenges of this process (src/acme), answered by the TLS terminator. */
  acmeTls?: TlsTerminatorDeps['acmeTls'];
}

const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export class H2Listener {
  private config: ListenerConfig;
  private readonly deps: H2ListenerDeps;
  private pools: PoolLookup;
  private readonly http: HttpListener;
  /** node:http2: listeners with `http2.engine: node`. */
  private readonly frontend: H2Frontend;
  /** Switchyard's own HTTP/2 codec (src/h2/codec): every other listener, also those with routes to HTTP/2 or gRPC pools. */
  private readonly codec: CodecFrontend;
  private readonly terminator: TlsTerminator | undefined;
  private readonly upstreamSessions = new Map<string, H2UpstreamSessions>();
  private readonly sockets = new Set<Socket>();
  private dispatch: StreamDispatch;
  private server: net.Server | null = null;
  /** The listener layer's connection filters (src/listener), run on the raw TCP socket before TLS or the preface sniff. */
  private readonly gate: ConnectionGate;
  /** https: when each TCP connection was accepted (monotonic ms), read when its handshake ends. */
  private readonly acceptedAt = new WeakMap<Socket, number>();
  /** HTTP/3 on the same port over UDP (`http3: true`), started with the TCP listener. */
  private h3: Http3Endpoint | null = null;
  private poolConfigs: Readonly<Record<string, PoolConfig>> | undefined;

  constructor(config: ListenerConfig, deps: H2ListenerDeps) {
    if (config.protocol !== 'https' && config.protocol !== 'h2c') {
      throw new EdgeError('SY_ERR_CONFIG', `listener ${config.name}: h2 serves https and h2c, not ${config.protocol}`, { source: 'config' });
    }
    this.config = config;
    this.deps = deps;
    this.pools = deps.pools;
    this.poolConfigs = deps.poolConfigs;
    this.http = createHttpListener(config, {
      pools: this.pools,
      accessLog: deps.accessLog,
      logger: deps.logger,
      clock: deps.clock,
      upstreamSettings: deps.poolConfigs ? upstreamSettingsFromPools(deps.poolConfigs) : undefined,
      external: true,
      baseDir: deps.baseDir,
      dataDir: deps.dataDir,
      traceToken: deps.traceToken,
      onRequestDone: deps.onRequestDone,
      spans: deps.spans,
      filters: deps.filters,
      dns: deps.dns,
      // HTTP/1.1 requests routed to h2c/h2/grpc pools go up on the same sessions as HTTP/2 streams
      foreignUpstream: (pool, request, downstream, target) => proxyForeignExchange((name, config) => this.sessionsFor(name, config), pool, request, downstream, target),
    });
    this.terminator = config.protocol === 'https' ? createTlsTerminator(config, { dataDir: deps.dataDir, baseDir: deps.baseDir, logger: deps.logger, clock: deps.clock, ticketSeed: deps.ticketSeed, acmeTls: deps.acmeTls }) : undefined;
    this.gate = new ConnectionGate(config);
    // HTTP/3's TLS (GnuTLS, in the addon) takes the reloaded certificates for its new connections too
    this.terminator?.onReload((result) => {
      if (result.ok) this.h3?.certificatesChanged();
    });
    this.dispatch = this.buildDispatch();
    this.frontend = new H2Frontend(config, { dispatch: (stream, headers, rawHeaders, context) => this.dispatch.dispatch(stream, headers, rawHeaders, context), logger: deps.logger, clock: deps.clock });
    this.codec = new CodecFrontend(config, { exchange: (request, downstream, encrypted, localPort) => this.dispatch.exchange(request, downstream, encrypted, localPort), logger: deps.logger, clock: deps.clock, responseHeaders: this.responseHeaders() });
  }

  /** Fields every TCP response carries: Strict-Transport-Security, and Alt-Svc when HTTP/3 is served. */
  private responseHeaders(): Readonly<Record<string, string>> | undefined {
    const hsts = this.terminator?.hsts;
    const fields: Record<string, string> = {};
    if (hsts) fields['strict-transport-security'] = hsts;
    const altSvc = altSvcHeaderValue(this.config);
    if (altSvc !== undefined) fields['alt-svc'] = altSvc;
    return Object.keys(fields).length > 0 ? fields : undefined;
  }

  /** HTTP/3's responses carry HSTS only: Alt-Svc advertises HTTP/3 to clients that are not on it yet. */
  private h3ResponseHeaders(): Readonly<Record<string, string>> | undefined {
    const hsts = this.terminator?.hsts;
    return hsts ? { 'strict-transport-security': hsts } : undefined;
  }

  private createH3(): Http3Endpoint {
    const factory = this.deps.http3;
    if (factory === undefined) throw new EdgeError('SY_ERR_CONFIG', `listener ${this.config.name}: http3 is not available in this process`, { source: 'config' });
    const terminator = this.terminator!;
    const h3 = factory(this.config, {
      exchange: (request, downstream, encrypted, localPort) => this.dispatch.exchange(request, downstream, encrypted, localPort),
      parseRequest: parseH3Request,
      responseFields: appendResponseFields,
      certificates: () => terminator.pemPairs(),
      logger: this.deps.logger,
      secretSeed: this.deps.ticketSeed,
      responseHeaders: this.h3ResponseHeaders(),
    });
    return h3;
  }

  /** New HTTP/2 connections go to the codec unless the config asks for node:http2. */
  private get engine(): 'codec' | 'node' {
    return this.config.http2.engine === 'auto' ? 'codec' : 'node';
  }

  private acceptH2(socket: Socket | TLSSocket, times?: ConnectionTimes): void {
    if (this.engine === 'codec') this.codec.accept(socket, times);
    else this.frontend.accept(socket, times);
  }

  /**
   * A TLS connection's accept (stamped on its TCP socket) and the handshake's end (now), for the waterfall
   * of its first request; undefined when the TCP socket was not seen.
   */
  private connectionTimes(socket: TLSSocket): ConnectionTimes | undefined {
    const raw = (socket as unknown as { _parent?: Socket | null })._parent;
    const tAccepted = raw ? this.acceptedAt.get(raw) : undefined;
    return tAccepted === undefined ? undefined : { tAccepted, tTls: this.deps.clock.monotonic() };
  }

  private buildDispatch(): StreamDispatch {
    return new StreamDispatch(this.config, {
      http: this.http,
      pools: this.pools,
      sessions: (pool, config) => this.sessionsFor(pool, config),
      accessLog: this.deps.accessLog,
      logger: this.deps.logger,
      clock: this.deps.clock,
      responseHeaders: this.responseHeaders(),
    });
  }

  private sessionsFor(pool: string, config: PoolConfig): H2UpstreamSessions {
    let sessions = this.upstreamSessions.get(pool);
    if (!sessions) {
      sessions = new H2UpstreamSessions(pool, config, { baseDir: this.deps.baseDir, logger: this.deps.logger, connectTimeoutMs: this.config.timeouts.upstream_connect });
      this.upstreamSessions.set(pool, sessions);
    }
    return sessions;
  }

  /** Self-signed mode: the CA certificate to trust (after start()). */
  get caPath(): string | undefined {
    return this.terminator?.caPath;
  }

  async start(): Promise<void> {
    await this.http.start();
    let serve: (socket: Socket) => void;
    if (this.terminator) {
      await this.terminator.start();
      // TLS is served on sockets the gate admitted (a PROXY header comes before the handshake): the TLS
      // server never listens, it is handed each socket as a 'connection'
      const secure = tls.createServer({ ...this.terminator.serverOptions(), noDelay: true });
      this.terminator.attach(secure);
      secure.on('secureConnection', (socket: TLSSocket) => {
        socket.allowHalfOpen = true;
        this.terminator?.handshakeDone(socket);
        carryClient(socket);
        const times = this.connectionTimes(socket);
        if (socket.alpnProtocol === 'h2') this.acceptH2(socket, times);
        else this.http.acceptConnection(socket, times);
      });
      // handshake failures (old versions, weak ciphers, bytes that are not TLS) and handshake timeouts. Node
      // emits this but does not close the socket: a TLS 1.3 client that sends its Finished and a FIN at once
      // leaves the server socket in CLOSE_WAIT, never secure, with its OpenSSL state (~60 KB), forever.
      secure.on('tlsClientError', (err, socket) => {
        socket.destroy();
        this.deps.logger.debug({ listener: this.config.name, err: messageOf(err) }, 'tls handshake failed');
      });
      // half-open only once the handshake is done (the TLS socket takes the raw socket's setting): a client
      // that half-closes before it would otherwise hold its connection slot until the handshake timeout
      serve = (socket) => {
        socket.allowHalfOpen = false;
        this.terminator!.accept(socket, (accepted) => secure.emit('connection', accepted));
      };
    } else {
      serve = (socket) => this.sniff(socket);
    }
    const stampAccepts = this.terminator !== undefined;
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      if (stampAccepts) this.acceptedAt.set(socket, this.deps.clock.monotonic());
      this.gate.admit(socket, serve);
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new EdgeError('SY_ERR_LISTEN', `listener ${this.config.name}: cannot listen on ${this.config.listen.host}:${this.config.listen.port}: ${err.message}`, { source: 'internal', cause: err })));
      server.listen({ host: this.config.listen.host, port: this.config.listen.port, reusePort: process.platform === 'linux', backlog: 4096 }, () => resolve());
    });
    server.on('error', (err) => this.deps.logger.error({ listener: this.config.name, err: err.message }, 'listener error'));
    if (this.config.http3.enabled) await this.startH3();
  }

  /** HTTP/3 on the TCP listener's port (port 0: the one the kernel chose, which Alt-Svc then names). */
  private async startH3(): Promise<void> {
    const port = this.address().port;
    if (this.config.listen.port === 0) {
      this.config = { ...this.config, listen: { ...this.config.listen, port } };
      this.http.updateConfig(this.config, this.pools, this.poolConfigs ? upstreamSettingsFromPools(this.poolConfigs) : undefined);
      this.codec.updateConfig(this.config, this.responseHeaders());
      this.dispatch = this.buildDispatch();
    }
    this.h3 = this.createH3();
    try {
      this.h3.start(port);
    } catch (err) {
      this.h3 = null;
      await this.stop();
      throw err;
    }
  }

  /** h2c: the first bytes say whether the client speaks HTTP/2 with prior knowledge or HTTP/1.1. */
  private sniff(socket: Socket): void {
    socket.on('error', () => undefined);
    socket.setTimeout(this.config.timeouts.header, () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(chunk);
      const n = Math.min(chunk.length, preface.length);
      if (chunk.subarray(0, n).equals(preface.subarray(0, n))) {
        this.acceptH2(socket);
      } else {
        this.http.acceptConnection(socket);
        socket.resume();
      }
    });
    // a socket whose PROXY header was read comes paused
    socket.resume();
  }

  address(): { host: string; port: number } {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new EdgeError('SY_ERR_NOT_STARTED', `listener ${this.config.name}: not listening`, { source: 'internal' });
    return { host: address.address, port: address.port };
  }

  /** Reload (TrafficListener contract): new streams and requests use the new routes and pools. */
  updateConfig(listener: ListenerConfig, pools: PoolLookup, poolConfigs?: Readonly<Record<string, PoolConfig>>): void {
    // a listener that bound port 0 keeps the port it got (HTTP/3 serves it, Alt-Svc names it)
    this.config = listener.listen.port === 0 && this.server !== null ? { ...listener, listen: { ...listener.listen, port: this.address().port } } : listener;
    listener = this.config;
    this.pools = pools;
    this.poolConfigs = poolConfigs;
    this.gate.update(listener);
    this.http.updateConfig(listener, this.pools, poolConfigs ? upstreamSettingsFromPools(poolConfigs) : undefined);
    this.frontend.updateConfig(listener);
    this.codec.updateConfig(listener, this.responseHeaders());
    for (const [name, sessions] of this.upstreamSessions) {
      const config = this.pools.get(name)?.poolConfig;
      if (config && config.protocol !== 'http1') {
        sessions.updateConfig(config);
      } else {
        sessions.close();
        this.upstreamSessions.delete(name);
      }
    }
    this.dispatch = this.buildDispatch();
    this.updateH3();
  }

  /** Reload: HTTP/3 turned on starts it, turned off stops it (after its streams), otherwise new limits apply. */
  private updateH3(): void {
    if (this.config.http3.enabled && this.h3 === null && this.server !== null) {
      // the TCP side keeps serving whatever happens here: a UDP port taken by another process is logged
      try {
        const h3 = this.createH3();
        h3.start(this.address().port);
        this.h3 = h3;
      } catch (err) {
        this.deps.logger.error({ listener: this.config.name, err: messageOf(err) }, `listener ${this.config.name}: HTTP/3 not started: ${messageOf(err)}`);
      }
    } else if (!this.config.http3.enabled && this.h3 !== null) {
      const h3 = this.h3;
      this.h3 = null;
      void h3.drain(Date.now() + this.config.timeouts.idle).then(() => h3.stop());
    } else {
      this.h3?.updateConfig(this.config, this.h3ResponseHeaders());
    }
  }

  status(): unknown {
    let address: { host: string; port: number } | undefined;
    try {
      address = this.address();
    } catch {
      address = undefined;
    }
    return {
      name: this.config.name,
      protocol: this.config.protocol,
      address,
      connections: this.sockets.size,
      filter: this.gate.status(),
      http1: this.http.status(),
      h2: sumStatus(this.frontend.status(), this.codec.status()),
      h2_engine: this.engine,
      tls: this.terminator?.status(),
      h3: this.h3?.status(),
      upstream_sessions: Object.fromEntries([...this.upstreamSessions].map(([name, sessions]) => [name, sessions.sessionCount()])),
    };
  }

  /** Stops accepting, sends GOAWAY on every HTTP/2 session, lets HTTP/1.1 exchanges finish; until the deadline. */
  async drain(deadline: number): Promise<void> {
    this.server?.close();
    await Promise.all([this.frontend.drain(deadline), this.codec.drain(deadline), this.http.drain(deadline), this.h3?.drain(deadline)]);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    const h3 = this.h3;
    this.h3 = null;
    await h3?.stop();
    await this.frontend.stop();
    await this.codec.stop();
    await this.http.stop();
    await this.terminator?.stop();
    for (const sessions of this.upstreamSessions.values()) sessions.close();
    this.upstreamSessions.clear();
    for (const socket of this.sockets) socket.destroy();
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function sumStatus(a: H2FrontendStatus, b: H2FrontendStatus): H2FrontendStatus {
  return { sessions: a.sessions + b.sessions, streams: a.streams + b.streams, sessions_cut_for_resets: a.sessions_cut_for_resets + b.sessions_cut_for_resets };
}

export function createH2Listener(config: ListenerConfig, deps: H2ListenerDeps): H2Listener {
  return new H2Listener(config, deps);
}
