// TrafficPlane: what carries requests in one process — the pools and the listeners built on them.
// Runs inside each worker (or in the primary with `workers: 0`). A reload builds the new pools and
// listeners beside the old ones, then swaps: listeners that keep their name, protocol and address keep
// their sockets and get the new routes; new ones open; removed ones drain and close. The plane owns the
// process's span exporter (src/telemetry): every listener gets it, a reload reconfigures it. It also owns
// the process's DNS server (dns-plane.ts): `dns.listen` and the `dns: {}` routes (DNS over HTTPS) of its
// HTTP listeners are answered by the same engine.
import type { ListenerConfig } from '../config/index.ts';
import { ConfigError, messageOf, type Clock, type Logger } from '../core/index.ts';
import { buildPools, type PoolRegistry, type PoolStatus } from '../pool/index.ts';
import type { LoadedConfig } from '../config/index.ts';
import type { TrafficListener } from './listener-factory.ts';
import type { ListenerFactories } from './listeners.ts';
import type { RequestRecord } from './request-counters.ts';
import { RecentRequests, RecordSinks, SpanExporter, type RecentQuery, type RecentRequest, type TelemetryStatus } from '../telemetry/index.ts';
import type { FilterEventSeries } from '../l7/index.ts';
import type { BoundAddress, DnsStatus } from '../dns/index.ts';
import { DnsPlane } from './dns-plane.ts';
import { ChallengeBoard, type ChallengeSet } from '../acme/index.ts';

export interface TrafficPlaneDeps {
  logger: Logger;
  accessLog: Logger;
  clock: Clock;
  dataDir: string;
  factories: ListenerFactories;
  ticketSeed?: Buffer;
  traceToken?: string;
  onRequestDone?: (record: RequestRecord) => void;
  /** Shared pools (`workers: 0`: the control plane's); when absent the plane builds its own. */
  pools?: () => PoolRegistry;
}

/**
 * Per process: 500 requests (a few hundred KB at most), all errors and requests of a second or more,
 * and up to 20 ordinary ones a second (docs/dashboard.md, Requests).
 */
const recentRequestsOptions = { capacity: 500, perSecond: 20, slowMs: 1000 };

interface RunningListener {
  config: ListenerConfig;
  listener: TrafficListener;
}

const sameSocket = (a: ListenerConfig, b: ListenerConfig): boolean =>
  a.protocol === b.protocol && a.listen.host === b.listen.host && a.listen.port === b.listen.port && JSON.stringify(a.tls) === JSON.stringify(b.tls);

export class TrafficPlane {
  private readonly deps: TrafficPlaneDeps;
  private pools: PoolRegistry | undefined;
  private listeners = new Map<string, RunningListener>();
  /** The directory of the config applied last (a failed reload's DNS rollback resolves its paths there). */
  private baseDir: string | undefined;
  /** Inactive (listeners skip it) until a config with telemetry.otlp is applied. */
  private readonly spans: SpanExporter;
  private readonly dns: DnsPlane;
  /** The dashboard's requests table (GET /api/requests): recent requests of this process, sampled. */
  private readonly recent = new RecentRequests(recentRequestsOptions);
  /** What every listener gets as its access-record sink: the exporter and the ring. */
  private readonly sinks: RecordSinks;
  /** ACME challenges this process answers (DNS TXT and http-01 tokens), as the control plane published them. */
  private readonly challenges = new ChallengeBoard();

  constructor(deps: TrafficPlaneDeps) {
    this.deps = deps;
    this.spans = new SpanExporter({ logger: deps.logger });
    this.dns = new DnsPlane({ logger: deps.logger, dataDir: deps.dataDir, pools: () => this.pools, challenges: this.challenges.dnsSource });
    this.sinks = new RecordSinks(this.spans, this.recent);
  }

  /** The recent requests this process kept that pass `query`, newest first. */
  requests(query: RecentQuery): RecentRequest[] {
    return this.recent.query(query);
  }

  /** Refuses a config this process cannot serve (a protocol with no factory) before anything starts. */
  check(loaded: LoadedConfig): void {
    const problems = loaded.config.listeners
      .map((listener, index) => (this.deps.factories.get(listener.protocol) ? undefined : `${loaded.file}: listeners[${index}].protocol: ${listener.protocol} listeners are not supported by this build yet`))
      .filter((problem): problem is string => problem !== undefined);
    if (problems.length > 0) throw new ConfigError(problems);
  }

  /** First start and every reload. Throws (leaving the old listeners serving) when a new listener cannot bind. */
  async apply(loaded: LoadedConfig): Promise<void> {
    this.check(loaded);
    const { config } = loaded;
    await this.deps.factories.load(config);
    // Own pools (worker processes) are built deferred: kept pools change only once the swap is certain.
    const ownPools = this.deps.pools ? undefined : buildPools(config.pools, { clock: this.deps.clock, logger: this.deps.logger }, this.pools, { defer: true });
    const pools = ownPools ?? this.deps.pools!();
    // DNS first: a zone that does not load refuses the whole config before any listener changes.
    const previousDns = this.dns.current();
    try {
      await this.dns.apply(config.dns, loaded.baseDir);
    } catch (err) {
      ownPools?.discard();
      throw err;
    }
    const next = new Map<string, RunningListener>();
    const opened: TrafficListener[] = [];
    try {
      for (const listenerConfig of config.listeners) {
        const current = this.listeners.get(listenerConfig.name);
        if (current && sameSocket(current.config, listenerConfig)) {
          next.set(listenerConfig.name, { config: listenerConfig, listener: current.listener });
          continue;
        }
        const factory = this.deps.factories.get(listenerConfig.protocol)!;
        const listener = factory(listenerConfig, {
          pools,
          logger: this.deps.logger,
          accessLog: this.deps.accessLog,
          clock: this.deps.clock,
          dataDir: this.deps.dataDir,
          baseDir: loaded.baseDir,
          poolConfigs: config.pools,
          ticketSeed: this.deps.ticketSeed,
          traceToken: this.deps.traceToken,
          onRequestDone: this.deps.onRequestDone,
          spans: this.sinks,
          dns: this.dns,
          acmeHttp: this.challenges.httpSource,
          acmeTls: this.challenges.tlsSource,
          resolver: ownResolver(config),
        });
        // A changed listener that keeps its address must release the old socket first unless the OS shares it.
        await listener.start();
        opened.push(listener);
        next.set(listenerConfig.name, { config: listenerConfig, listener });
      }
    } catch (err) {
      await Promise.all(opened.map((listener) => listener.stop()));
      ownPools?.discard();
      await this.dns.apply(previousDns, this.baseDir ?? loaded.baseDir).catch((rollback: unknown) => this.deps.logger.error({ error: messageOf(rollback) }, 'dns: rollback failed'));
      throw err;
    }
    this.baseDir = loaded.baseDir;
    // Swap: kept listeners get the new routes and pools; replaced and removed ones drain in the background.
    const retiring: TrafficListener[] = [];
    for (const [name, running] of this.listeners) {
      const kept = next.get(name);
      if (kept?.listener !== running.listener) retiring.push(running.listener);
    }
    ownPools?.commit();
    for (const running of next.values()) {
      if (!opened.includes(running.listener)) running.listener.updateConfig(running.config, pools, config.pools);
    }
    this.spans.configure(config.telemetry?.otlp);
    const previousPools = this.pools;
    this.listeners = next;
    this.pools = pools;
    const deadline = Date.now() + 30_000;
    for (const listener of retiring) {
      void listener.drain(deadline).finally(() => listener.stop());
    }
    if (ownPools && previousPools) {
      for (const retired of ownPools.retired) setTimeout(() => retired.close(), 30_000).unref();
    }
  }

  /** Replaces the ACME challenges answered by this process's DNS server and HTTP listeners. */
  setAcmeChallenges(set: ChallengeSet): void {
    this.challenges.replace(set);
  }

  registry(): PoolRegistry | undefined {
    return this.pools;
  }

  setHealth(pool: string, backend: string, healthy: boolean, reason: string): void {
    this.pools?.get(pool)?.setHealth(backend, healthy, reason);
  }

  setDraining(pool: string, backend: string, draining: boolean): boolean {
    return this.pools?.get(pool)?.setDraining(backend, draining) ?? false;
  }

  purgeCache(target: { url?: string; prefix?: string }): Promise<number> {
    return this.deps.factories.purgeCache(target);
  }

  /** The DNS addresses this process listens on (empty without `dns:`). */
  dnsAddresses(): BoundAddress[] {
    return this.dns.addresses();
  }

  addresses(): Record<string, { host: string; port: number }> {
    const result: Record<string, { host: string; port: number }> = {};
    for (const [name, running] of this.listeners) result[name] = running.listener.address();
    return result;
  }

  status(): { listeners: Record<string, unknown>; pools: PoolStatus[]; filters: FilterEventSeries[]; telemetry?: TelemetryStatus; dns?: DnsStatus } {
    const listeners: Record<string, unknown> = {};
    for (const [name, running] of this.listeners) listeners[name] = running.listener.status();
    const telemetry = this.spans.status();
    const dns = this.dns.status();
    return { listeners, pools: this.pools?.status() ?? [], filters: this.deps.factories.filterStats(), ...(telemetry === undefined ? {} : { telemetry }), ...(dns === undefined ? {} : { dns }) };
  }

  async drain(deadline: number): Promise<void> {
    await Promise.all([...[...this.listeners.values()].map((running) => running.listener.drain(deadline)), this.dns.drain(deadline)]);
  }

  async stop(): Promise<void> {
    const listeners = [...this.listeners.values()];
    this.listeners.clear();
    this.spans.stop();
    await Promise.all([...listeners.map((running) => running.listener.stop()), this.dns.stop()]);
    await this.deps.factories.close();
    if (!this.deps.pools) this.pools?.close();
  }
}

/**
 * Where a forward proxy sends its DNS queries when the config runs Switchyard's resolver: the first UDP
 * listen address of dns (an unspecified address means this host's loopback).
 */
function ownResolver(config: LoadedConfig['config']): { host: string; port: number } | undefined {
  const udp = config.dns?.resolver ? config.dns.listen.find((entry) => entry.transport === 'udp') : undefined;
  if (udp === undefined) return undefined;
  const host = udp.host === '0.0.0.0' ? '127.0.0.1' : udp.host === '::' ? '::1' : udp.host;
  return { host, port: udp.port };
}
