// The forward proxy listener (`protocol: forward_proxy`): accepts through the listener layer
// (max_connections, access lists, inbound PROXY protocol), then each connection is a ForwardConnection.
// start() reads the password file (a bad one fails the start, as `switchyard check` reports it);
// updateConfig() (reload) rebuilds the policy and re-reads the file, in-flight requests keep their context.
import net from 'node:net';
import type { ListenerConfig } from '../config/index.ts';
import { systemClock, type Clock, type Component, type Logger } from '../core/index.ts';
import { ConnectionGate, type ConnectionGateStatus } from '../listener/index.ts';
import { buildChain, type FilterHost } from '../l7/index.ts';
import { resolve } from 'node:path';
import { ForwardConnection } from './connection.ts';
import type { ForwardContext } from './context.ts';
import { ForwardCounters } from './counters.ts';
import { OriginPool } from './origin-pool.ts';
import { PasswordFile } from './passwords.ts';
import { ForwardPolicy } from './policy.ts';
import { DestinationResolver, type ResolverAddress } from './resolve.ts';

export interface ForwardProxyDeps {
  accessLog: Logger;
  logger: Logger;
  clock?: Clock;
  /** Directory the password file path resolves against (the config file's). */
  baseDir: string;
  /** Switchyard's own DNS server (UDP) when the config runs dns.resolver; else the OS resolves. */
  resolver?: ResolverAddress;
  /** The process's filter host (the middleware's shared cache and counters); required when `middleware` is set. */
  filters?: FilterHost;
  /** data_dir, absolute (a disk cache lives under it). */
  dataDir?: string;
}

export interface ForwardProxyStatus {
  name: string;
  address: { host: string; port: number } | undefined;
  connections: number;
  accepted: number;
  /** Loopback clients only: the config names no allow.clients. */
  loopback_only: boolean;
  idle_origin_connections: number;
  forward: Omit<ForwardCounters, 'accepted'>;
  filter: ConnectionGateStatus;
}

export class ForwardProxyListener implements Component {
  private config: ListenerConfig;
  private readonly deps: ForwardProxyDeps;
  private readonly clock: Clock;
  private readonly gate: ConnectionGate;
  private readonly counters = new ForwardCounters();
  private readonly origins = new OriginPool();
  private current: ForwardContext;
  private server: net.Server | undefined;
  private readonly connections = new Set<ForwardConnection>();
  private drainWaiter: (() => void) | undefined;
  /** What connections call to get the context current now. */
  private readonly owner = { context: (): ForwardContext => this.current, draining: false };

  constructor(config: ListenerConfig, deps: ForwardProxyDeps) {
    this.config = config;
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.gate = new ConnectionGate(config);
    this.current = this.compile(config, config.proxy_auth ? new PasswordFile() : undefined);
  }

  private compile(config: ListenerConfig, passwords: PasswordFile | undefined): ForwardContext {
    const realm = config.proxy_auth?.realm ?? 'switchyard';
    return {
      config,
      policy: new ForwardPolicy(config.allow),
      passwords,
      challenge: `Proxy-Authenticate: Basic realm="${realm}", charset="UTF-8"\r\n`,
      via: config.anonymous ? 'proxy' : `${config.name} (switchyard)`,
      origins: this.origins,
      resolver: new DestinationResolver(this.deps.resolver, config.timeouts.upstream_connect),
      counters: this.counters,
      clock: this.clock,
      accessLog: this.deps.accessLog,
      logger: this.deps.logger,
      filters: this.chain(config),
    };
  }

  /** The listener's middleware, built from the process's filter host (the cache store is shared with every listener). */
  private chain(config: ListenerConfig): ForwardContext['filters'] {
    if (config.middleware === undefined || config.middleware.length === 0) return null;
    const host = this.deps.filters;
    if (host === undefined) throw new Error(`listener ${config.name}: middleware needs the filter host`);
    return buildChain(host.registry, host.env(this.deps.baseDir, this.deps.dataDir ?? this.deps.baseDir, config.name), config.middleware, undefined);
  }

  async start(): Promise<void> {
    if (this.config.proxy_auth) await this.current.passwords!.load(resolve(this.deps.baseDir, this.config.proxy_auth.file));
    if (this.current.policy.loopbackOnly) {
      this.deps.logger.warn({ listener: this.config.name }, `listener ${this.config.name}: forward_proxy without allow.clients serves loopback clients only (127.0.0.0/8, ::1)`);
    }
    const server = net.createServer({ noDelay: true, pauseOnConnect: true, allowHalfOpen: true }, (socket) => this.gate.admit(socket, (admitted) => this.accept(admitted)));
    this.server = server;
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen({ host: this.config.listen.host, port: this.config.listen.port, reusePort: process.platform === 'linux' }, () => {
        server.off('error', reject);
        resolveListen();
      });
    });
  }

  address(): { host: string; port: number } {
    const info = this.server?.address() as net.AddressInfo | null;
    return { host: this.config.listen.host, port: info?.port ?? this.config.listen.port };
  }

  status(): ForwardProxyStatus {
    const { accepted, ...forward } = this.counters;
    return {
      name: this.config.name,
      address: this.server ? this.address() : undefined,
      connections: this.connections.size,
      accepted,
      loopback_only: this.current.policy.loopbackOnly,
      idle_origin_connections: this.origins.size,
      forward,
      filter: this.gate.status(),
    };
  }

  /** Reload: new requests see the new policy, password file and settings; a file that fails to load keeps the old users. */
  updateConfig(config: ListenerConfig): void {
    this.config = config;
    this.gate.update(config);
    const passwords = config.proxy_auth ? (this.current.passwords ?? new PasswordFile()) : undefined;
    const next = this.compile(config, passwords);
    if (config.proxy_auth && passwords) {
      passwords.load(resolve(this.deps.baseDir, config.proxy_auth.file)).then(
        () => {
          this.current = next;
        },
        (err: unknown) => this.deps.logger.error({ listener: config.name, err }, `listener ${config.name}: proxy_auth file not reloaded, the previous users stay`),
      );
    } else this.current = next;
  }

  /** Stops accepting; idle connections close now, busy ones after their response or tunnel, or at the deadline. */
  async drain(deadline: number): Promise<void> {
    this.server?.close();
    this.owner.draining = true;
    this.origins.close();
    for (const connection of this.connections) connection.closeIfIdle();
    if (this.connections.size === 0) return;
    await new Promise<void>((done) => {
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      this.drainWaiter = () => {
        clearTimeout(timer);
        done();
      };
    });
  }

  async stop(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    this.connections.clear();
    this.origins.close();
    const server = this.server;
    this.server = undefined;
    if (server?.listening) await new Promise<void>((done) => server.close(() => done()));
  }

  private accept(socket: net.Socket): void {
    this.counters.accepted++;
    const connection = new ForwardConnection(socket, this.owner);
    this.connections.add(connection);
    socket.once('close', () => {
      this.connections.delete(connection);
      if (this.connections.size === 0) this.drainWaiter?.();
    });
  }
}
