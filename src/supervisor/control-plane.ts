// ControlPlane: the primary process's side — config loading and reload (build, validate, swap), active
// health checks, the admin API, the metrics and the workers. The traffic plane (HTTP, L4 and DNS) runs in
// worker processes (`workers: N`, N ≥ 1; like nginx's master and workers), each with its own pools, and
// the control plane pushes config snapshots and health transitions to them (worker-pool.ts); the primary
// binds no traffic or DNS socket, so a flood never reaches it. `workers: 0` runs the traffic plane in this
// same process, sharing its pools: one process, for debugging and embedding.
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { AdminServer, configTopology, ensureAdminToken, type AdminController, type ReloadResult } from '../admin/index.ts';
import type { Config, LoadedConfig } from '../config/index.ts';
import { messageOf, systemClock, type Clock, type Logger } from '../core/index.ts';
import { buildPools, type PoolRegistry, type PoolStatus } from '../pool/index.ts';
import { HealthCheckers, builtinProbes, type ProbeFactory } from '../health/index.ts';
import type { BoundAddress, DnsStatus } from '../dns/index.ts';
import { mergeDnsStatus } from './dns-status.ts';
import { loadConfigInProcess } from './config-process.ts';
import type { TrafficPlane } from './traffic-plane.ts';
import { WorkerPool } from './worker-pool.ts';
import { createLoggers, type Loggers } from './logging.ts';
import type { Metrics } from './metrics.ts';
import { RequestCounters, trafficMetrics, workerMemory, type TrafficMetrics } from './request-counters.ts';
import { assertAddressesFree, type ListenAddress } from './address-guard.ts';
import { joinPoolStatus } from './pool-view.ts';
import type { ToWorker } from './ipc.ts';
import { workerRuntime } from './worker-runtime.ts';
import { MEMORY_REDUCING_GC } from './idle-collector.ts';
import { runFileName, writeRunFile } from './run-file.ts';
import { mergeRecent, type RecentQuery, type RecentRequest } from '../telemetry/index.ts';
import { PoolSeries } from './pool-series.ts';
import { HealthTimeline } from './health-timeline.ts';
import { dnsPanel } from './dns-panel.ts';
import { acmeListeners, createAcmeManager, type AcmeManager, type ChallengeSet } from '../acme/index.ts';

/** The dashboard's charts: a point every 5 s, 15 minutes of them; the last 200 health and ejection events. */
const historyIntervalMs = 5_000;
const historyPoints = (15 * 60 * 1000) / historyIntervalMs;
const healthEvents = 200;

export interface ControlPlaneOptions {
  configFile: string;
  /** Overrides `workers` from the config. */
  workers?: number;
  /** Overrides `data_dir` from the config (absolute): the demo of an installed package keeps its state in the cwd. */
  dataDir?: string;
  clock?: Clock;
}

/** What the traffic side looks like to the control plane, whether in-process or in worker processes. */
export interface TrafficHandle {
  apply(loaded: LoadedConfig): Promise<void>;
  setHealth(pool: string, backend: string, healthy: boolean, reason: string): void;
  setDraining(pool: string, backend: string, draining: boolean): Promise<boolean>;
  addresses(): Record<string, { host: string; port: number }>;
  /** The DNS addresses served (`dns.listen` with port 0 resolved); empty without `dns:`. */
  dnsAddresses(): BoundAddress[];
  status(): Promise<unknown>;
  /** One snapshot per traffic plane; the control plane renders them (metrics.ts). */
  metrics(): Promise<TrafficMetrics[]>;
  /** The pools as each traffic plane sees them (in flight, ejections). */
  pools(): Promise<PoolStatus[][]>;
  /** Each traffic plane's recent requests that pass the query (src/telemetry recent-requests.ts). */
  requests(query: RecentQuery): Promise<RecentRequest[][]>;
  drain(deadline: number): Promise<void>;
  stop(): Promise<void>;
  /** Drops response-cache entries by URL or prefix in every traffic plane; the count dropped. */
  purgeCache(target: { url?: string; prefix?: string }): Promise<number>;
  /** ACME: the challenges every traffic plane answers from now on; resolves once all of them do. */
  setAcmeChallenges(set: ChallengeSet): Promise<void>;
}

export class ControlPlane {
  private readonly options: ControlPlaneOptions;
  private readonly clock: Clock;
  private loaded!: LoadedConfig;
  private loggers!: Loggers;
  private pools: PoolRegistry | undefined;
  private traffic: TrafficHandle | undefined;
  private health: HealthCheckers | undefined;
  private admin: AdminServer | undefined;
  /** `tls.acme` certificates (src/acme): created by the first config that has an ACME listener. */
  private acme: AcmeManager | undefined;
  /**
   * The Prometheus registry (prom-client), made by the first scrape: a primary nobody scrapes does not load
   * prom-client (~2.5 MB); its process metrics (GC, event-loop lag) count from that scrape on.
   */
  private metrics: Promise<Metrics> | undefined;
  private shuttingDown = false;
  private readonly series = new PoolSeries(historyPoints);
  private readonly timeline = new HealthTimeline(healthEvents);
  private historyTimer: NodeJS.Timeout | undefined;
  private sampling = false;
  private reloading: Promise<ReloadResult> | undefined;
  /** The config file SIGHUP re-reads: the start-up file until a reload loads another (reload(file)). */
  private configFile: string;
  /** Resolved once at start: the run file and the admin token stay where they were for the edge's life. */
  private startDataDir: string | undefined;

  constructor(options: ControlPlaneOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.configFile = options.configFile;
  }

  get logger(): Logger {
    return this.loggers.logger;
  }

  dataDir(): string {
    return (this.startDataDir ??= path.resolve(this.loaded.baseDir, this.loaded.config.data_dir));
  }

  private async writeRunFile(): Promise<void> {
    const { admin } = this.loaded.config;
    await writeRunFile(this.dataDir(), {
      config: this.loaded.file,
      admin: this.admin?.address(),
      tokenFile: admin ? path.resolve(this.dataDir(), admin.token_file) : undefined,
      adminCert: admin?.tls ? path.resolve(this.loaded.baseDir, admin.tls.cert) : undefined,
    });
  }

  workerCount(): number {
    const configured = this.options.workers ?? this.loaded.config.workers;
    return configured === 'auto' ? availableParallelism() : configured;
  }

  async start(): Promise<void> {
    this.loaded = await this.load(this.configFile);
    const { config } = this.loaded;
    this.loggers = createLoggers(config, this.loaded.baseDir);
    const { logger } = this.loggers;
    try {
      await assertAddressesFree(this.loaded.file, probedAddresses(this.loaded));
      this.pools = buildPools(config.pools, { clock: this.clock, logger });
      // The token exists before the listeners: they recognise trace requests by it.
      const token = config.admin ? await ensureAdminToken(path.resolve(this.dataDir(), config.admin.token_file)) : undefined;
      const workers = this.workerCount();
      if (workers === 0) {
        // Loaded only here: the primary of a worker setup never loads the listeners' code.
        const [{ TrafficPlane }, { ListenerFactories }] = await Promise.all([import('./traffic-plane.ts'), import('./listeners.ts')]);
        const counters = new RequestCounters();
        const plane = new TrafficPlane({
          ...this.loggers,
          clock: this.clock,
          dataDir: this.dataDir(),
          factories: new ListenerFactories(),
          pools: () => this.pools!,
          traceToken: token,
          onRequestDone: (record) => counters.requestDone(record),
        });
        this.traffic = localTraffic(plane, counters);
      } else {
        const runtime = workerRuntime(config.runtime);
        logger.info({ allocator: runtime.jemallocPath ?? runtime.allocator, v8: runtime.execArgv }, `workers: ${workers}, allocator ${runtime.allocator}`);
        this.traffic = new WorkerPool({ count: workers, logger, replay: () => this.replayForWorker(), ticketSeed: randomBytes(48).toString('hex'), traceToken: token, runtime });
      }
      await this.prepareAcme(this.loaded);
      await this.traffic.apply(this.loaded);
      this.acme?.apply(acmeListeners(this.loaded.config), this.loaded.baseDir);

      this.health = new HealthCheckers({
        logger,
        clock: this.clock,
        probes: new Map([...builtinProbes(), [grpcProbe.type, grpcProbe]]),
        onTransition: (pool, backend, healthy, reason) => this.onHealth(pool, backend, healthy, reason),
        // A checker built by a reload starts from what the pool already knows.
        initialHealth: (pool, backend) => this.pools?.get(pool)?.backend(backend)?.healthy,
      });
      this.health.apply(config.pools, this.loaded.baseDir);
      await this.health.start();
      warnUnverifiedTls(config.pools, logger);

      if (config.admin && token) {
        const tls = config.admin.tls;
        const adminTls = tls && { certFile: path.resolve(this.loaded.baseDir, tls.cert), keyFile: path.resolve(this.loaded.baseDir, tls.key), minVersion: tls.min_version };
        this.admin = new AdminServer({ ...config.admin.listen, token, tls: adminTls, controller: this.controller(), logger });
        await this.admin.start();
        this.historyTimer = setInterval(() => void this.sampleHistory(), historyIntervalMs).unref();
        void this.sampleHistory();
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    await mkdir(this.dataDir(), { recursive: true });
    // The running edge's pid, config file and admin address (port 0 resolved), for `switchyard reload`.
    await this.writeRunFile();
    logger.info(
      {
        listeners: this.traffic.addresses(),
        dns: this.traffic.dnsAddresses(),
        admin: this.admin?.address(),
        dashboard: this.dashboardUrl(),
        workers: this.workerCount(),
        config: this.loaded.file,
      },
      'switchyard ready',
    );
    releaseGarbage();
  }

  private async load(file: string): Promise<LoadedConfig> {
    const loaded = await loadConfigInProcess(file);
    // Forward proxies' password files: read here as `switchyard check` reads them, so start and reload
    // refuse a bad one with the same lines before anything starts (the workers read them again).
    if (loaded.config.listeners.some((listener) => listener.protocol === 'forward_proxy' && listener.proxy_auth)) {
      const { checkForwardProxyFiles } = await import('../forward/index.ts');
      await checkForwardProxyFiles(loaded.config, loaded.baseDir);
    }
    // Set in the config itself, so that the workers (which resolve data_dir from the snapshot) agree.
    return this.options.dataDir ? { ...loaded, config: { ...loaded.config, data_dir: this.options.dataDir } } : loaded;
  }

  /**
   * Build-then-swap: a config that fails to load or to apply leaves the running one untouched. `file` (an
   * absolute path; `switchyard reload -c FILE` through the admin API) replaces the config file: once it has
   * loaded, it is the edge's config, and SIGHUP re-reads it. Without `file`, the current config file.
   */
  reload(file?: string): Promise<ReloadResult> {
    // Reloads are serialised: a second SIGHUP during a reload waits for the first and then runs.
    const previous = this.reloading ?? Promise.resolve({ ok: true });
    const next = previous.then(() => this.reloadOnce(file ?? this.configFile));
    this.reloading = next;
    return next;
  }

  private async reloadOnce(file: string): Promise<ReloadResult> {
    const { logger } = this.loggers;
    let loaded: LoadedConfig;
    try {
      loaded = await this.load(file);
      // Listeners, zones and certificates resolve relative paths against the directory of the config they
      // were built from, for their whole life: a config from elsewhere would mix two meanings.
      if (loaded.baseDir !== this.loaded.baseDir) {
        throw new Error(`reload: ${loaded.file} is not in ${this.loaded.baseDir}, the directory of the running config ${this.loaded.file}; relative paths would change meaning: move it there, or restart the edge with it`);
      }
    } catch (err) {
      logger.error({ error: messageOf(err) }, 'reload refused: invalid config, the running config stays');
      return { ok: false, error: messageOf(err) };
    }
    const previousPools = this.pools;
    // Deferred: the pools that remain are changed only by commit(), once everything else has worked.
    const pools = buildPools(loaded.config.pools, { clock: this.clock, logger }, previousPools, { defer: true });
    const previous = this.loaded;
    try {
      // Addresses this edge does not serve yet must be free (its own are shared with SO_REUSEPORT).
      const key = (address: ListenAddress): string => `${address.transport ?? 'tcp'} ${address.host}:${address.port}`;
      const serving = new Set(probedAddresses(previous).map(key));
      await assertAddressesFree(loaded.file, probedAddresses(loaded).filter((address) => !serving.has(key(address))));
      this.health!.apply(loaded.config.pools, loaded.baseDir);
      // Each traffic plane builds its DNS zones completely before swapping; a bad zone file throws there.
      this.pools = pools;
      await this.prepareAcme(loaded);
      await this.traffic!.apply(loaded);
    } catch (err) {
      this.pools = previousPools;
      pools.discard();
      this.health!.apply(previous.config.pools, previous.baseDir);
      logger.error({ error: messageOf(err) }, 'reload failed, the running config stays');
      return { ok: false, error: messageOf(err) };
    }
    pools.commit();
    this.acme?.apply(acmeListeners(loaded.config), loaded.baseDir);
    if (JSON.stringify(loaded.config.runtime) !== JSON.stringify(previous.config.runtime)) {
      logger.warn({ runtime: loaded.config.runtime }, 'reload: runtime (allocator, semi_space) changes apply when the edge restarts');
    }
    if (path.resolve(loaded.baseDir, loaded.config.data_dir) !== this.dataDir()) {
      logger.warn({ data_dir: this.dataDir() }, 'reload: data_dir changes apply when the edge restarts');
    }
    const switched = loaded.file !== this.loaded.file;
    this.loaded = loaded;
    this.configFile = loaded.file;
    if (switched) await this.writeRunFile().catch((err) => logger.error({ error: messageOf(err) }, `reload: cannot update ${runFileName}`));
    for (const retired of pools.retired) setTimeout(() => retired.close(), 60_000).unref();
    // Announced only now, when every part has committed: a part that was rolled back never says it reloaded.
    if (loaded.config.dns) logger.info({ zones: loaded.config.dns.zones.length }, 'dns: reloaded');
    logger.info({ listeners: this.traffic!.addresses(), config: loaded.file }, 'reloaded');
    releaseGarbage();
    warnUnverifiedTls(loaded.config.pools, logger);
    return { ok: true, config: loaded.file };
  }

  /**
   * ACME listeners need a certificate pair on disk before a traffic plane loads them: the manager writes a
   * temporary one where the CA has not issued yet. The manager itself is created on the first such config.
   */
  private async prepareAcme(loaded: LoadedConfig): Promise<void> {
    const listeners = acmeListeners(loaded.config);
    if (listeners.length === 0) return;
    this.acme ??= await createAcmeManager({
      dataDir: this.dataDir(),
      logger: this.loggers.logger,
      clock: this.clock,
      publish: (set) => this.traffic?.setAcmeChallenges(set) ?? Promise.resolve(),
    });
    await this.acme.prepare(listeners);
  }

  /** Backends drained through the admin API, as "pool\0backend": replayed to replacement workers. */
  private readonly adminDrained = new Set<string>();

  private replayForWorker(): ToWorker[] {
    const messages: ToWorker[] = [];
    for (const pool of this.pools?.values() ?? []) {
      for (const backend of pool.backends) {
        if (!backend.healthy) messages.push({ type: 'health', pool: pool.name, backend: backend.id, healthy: false, reason: 'replayed' });
      }
    }
    for (const key of this.adminDrained) {
      const [pool, backend] = key.split('\0');
      messages.push({ type: 'draining', id: 0, pool, backend, draining: true });
    }
    const challenges = this.acme?.currentChallenges();
    if (challenges && (challenges.http.length > 0 || challenges.dns.length > 0 || (challenges.tls ?? []).length > 0)) messages.push({ type: 'acme_challenges', id: 0, set: challenges });
    return messages;
  }

  /** The dashboard's address (admin listener + /dashboard), when the admin API runs. */
  dashboardUrl(): string | undefined {
    const address = this.admin?.address();
    if (address === undefined) return undefined;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    return `${address.scheme}://${host}:${address.port}/dashboard`;
  }

  /** One point of the pool charts and one look for ejections; a slow round skips the next beat. */
  private async sampleHistory(): Promise<void> {
    if (this.sampling || this.traffic === undefined || this.shuttingDown) return;
    this.sampling = true;
    try {
      const [metrics, pools] = await Promise.all([this.traffic.metrics(), this.poolView()]);
      const now = Date.now();
      this.series.add(now, metrics);
      this.timeline.observe(now, pools);
    } catch (err) {
      this.loggers.logger.debug({ error: messageOf(err) }, 'dashboard history: sample failed');
    } finally {
      this.sampling = false;
    }
  }

  private onHealth(pool: string, backend: string, healthy: boolean, reason: string): void {
    this.timeline.health(Date.now(), pool, backend, healthy, reason);
    // logged once, by the checker that saw it
    // The control plane's pools feed DNS and the admin API; with `workers: 0` they are the traffic's too.
    this.pools?.get(pool)?.setHealth(backend, healthy, reason);
    if (this.workerCount() > 0) this.traffic?.setHealth(pool, backend, healthy, reason);
  }

  /** The pools as the admin API shows them: the primary's verdicts, with the workers' in-flight counts and ejections. */
  private async poolView(): Promise<PoolStatus[]> {
    const own = this.pools?.status() ?? [];
    return this.workerCount() > 0 && this.traffic ? joinPoolStatus(own, await this.traffic.pools()) : own;
  }

  private controller(): AdminController {
    return {
      healthy: () => !this.shuttingDown,
      status: async () => ({
        config: this.loaded.file,
        workers: this.workerCount(),
        shutting_down: this.shuttingDown,
        ...(await this.trafficStatus()),
        ...(this.acme ? { acme: this.acme.status() } : {}),
        topology: configTopology(this.loaded.config.listeners),
      }),
      pools: () => this.poolView(),
      setDraining: async (pool, backend, draining) => {
        const found = this.pools?.get(pool)?.setDraining(backend, draining) ?? false;
        if (found && draining) this.adminDrained.add(`${pool}\0${backend}`);
        else this.adminDrained.delete(`${pool}\0${backend}`);
        if (found && this.workerCount() > 0) await this.traffic?.setDraining(pool, backend, draining);
        return found;
      },
      reload: (file) => this.reload(file),
      purgeCache: async (target) => (await this.traffic?.purgeCache(target)) ?? 0,
      requests: async (query: RecentQuery): Promise<RecentRequest[]> => mergeRecent((await this.traffic?.requests(query)) ?? [], query.limit ?? 200),
      history: async () => ({ interval_ms: historyIntervalMs, pools: this.series.view(Object.keys(this.loaded.config.pools)), health: this.timeline.view() }),
      dns: async () => dnsPanel((await this.trafficStatus()).dns as DnsStatus | undefined, this.loaded.config.dns, (pool) => this.pools?.get(pool)?.healthyAddresses()),
      explain: async (query) => {
        // Loaded on first use: the primary of a worker setup does not otherwise load the L7 code.
        const { explainRequest } = await import('../l7/index.ts');
        const workers = this.workerCount();
        const source = workers === 0 ? 'the running edge' : `the running edge (in flight and ejections over its ${workers} workers; each worker keeps its own rotation: the pick is the primary's view of it)`;
        return explainRequest(query, { config: this.loaded.config, pools: this.pools!, view: await this.poolView(), addresses: this.traffic!.addresses(), healthKnown: true, source });
      },
      metrics: async () => {
        const planes = await this.traffic!.metrics();
        const metrics = await (this.metrics ??= import('./metrics.ts').then(({ Metrics }) => new Metrics()));
        return { contentType: metrics.contentType, body: await metrics.render(planes, { dns: mergeDnsStatus(planes.map((plane) => plane.dns)), health: this.health?.status() ?? [] }) };
      },
    };
  }

  /** The traffic planes' status, and their DNS servers' as one (counters summed over the workers). */
  private async trafficStatus(): Promise<{ traffic: unknown; dns: unknown }> {
    const traffic = await this.traffic?.status();
    const planes = (Array.isArray(traffic) ? traffic : [traffic]) as ({ dns?: DnsStatus } | undefined)[];
    return { traffic, dns: mergeDnsStatus(planes.map((plane) => plane?.dns)) };
  }

  /** Graceful shutdown: report unhealthy, stop accepting, let in-flight requests finish until the deadline. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const deadline = Date.now() + (this.loaded?.config.shutdown_timeout ?? 10_000);
    this.loggers?.logger.info({ deadline: new Date(deadline).toISOString() }, 'shutting down: draining');
    await this.traffic?.drain(deadline).catch(() => undefined);
    await this.stop();
  }

  async stop(): Promise<void> {
    if (this.historyTimer !== undefined) clearInterval(this.historyTimer);
    await this.acme?.stop().catch(() => undefined);
    await this.traffic?.stop().catch(() => undefined);
    await this.health?.stop();
    await this.admin?.stop().catch(() => undefined);
    this.pools?.close();
    if (this.loaded) await rm(path.join(this.dataDir(), runFileName), { force: true });
    this.loggers?.logger.flush();
  }
}

/**
 * Health type grpc (grpc.health.v1) comes from the HTTP/2 component, imported on the first check: an edge
 * without gRPC health checks does not load src/h2 and node:http2 into the primary.
 */
const grpcProbe: ProbeFactory = {
  type: 'grpc',
  create(config) {
    let probe: Promise<ReturnType<ProbeFactory['create']>> | undefined;
    return {
      async check(target, signal) {
        probe ??= import('../h2/index.ts').then((h2) => h2.grpcProbe.create(config));
        return (await probe).check(target, signal);
      },
    };
  },
};

/** `tls.verify: false` takes away what TLS to a backend is for: said once per load (start, each reload). */
function warnUnverifiedTls(pools: Config['pools'], logger: Logger): void {
  for (const [name, pool] of Object.entries(pools)) {
    if (pool.tls?.verify === false) logger.warn({ pool: name }, `pool ${name}: tls.verify is false: backend certificates are not verified`);
  }
}

/** Addresses probed before binding: the TCP listeners' (udp listeners are not probed) and every `dns.listen` address. */
function probedAddresses(loaded: LoadedConfig): ListenAddress[] {
  const listeners = loaded.config.listeners.filter((listener) => listener.protocol !== 'udp').map((listener) => ({ name: listener.name, host: listener.listen.host, port: listener.listen.port }));
  const dns = (loaded.config.dns?.listen ?? []).map((entry) => ({ name: `dns ${entry.transport}://${entry.host}:${entry.port}`, host: entry.host, port: entry.port, transport: entry.transport === 'udp' ? ('udp' as const) : ('tcp' as const) }));
  // https listeners with http3 take the same port over UDP as well
  const quic = loaded.config.listeners.filter((listener) => listener.http3.enabled).map((listener) => ({ name: `${listener.name} (http3, udp)`, host: listener.listen.host, port: listener.listen.port, transport: 'udp' as const }));
  return [...listeners, ...dns, ...quic];
}

function localTraffic(plane: TrafficPlane, counters: RequestCounters): TrafficHandle {
  return {
    apply: (loaded) => plane.apply(loaded),
    setHealth: (pool, backend, healthy, reason) => plane.setHealth(pool, backend, healthy, reason),
    setDraining: async (pool, backend, draining) => plane.setDraining(pool, backend, draining),
    addresses: () => plane.addresses(),
    dnsAddresses: () => plane.dnsAddresses(),
    status: async () => ({ pid: process.pid, memory: workerMemory(), ...plane.status() }),
    metrics: async () => [trafficMetrics(counters, plane)],
    pools: async () => [plane.registry()?.status() ?? []],
    requests: async (query) => [plane.requests(query)],
    drain: (deadline) => plane.drain(deadline),
    stop: () => plane.stop(),
    purgeCache: async (target) => plane.purgeCache(target),
    setAcmeChallenges: async (set) => plane.setAcmeChallenges(set),
  };
}

/**
 * Start-up and reload leave the primary's heap full of what only they needed (the YAML document, schema
 * checks, the previous config's objects); idle, the primary may not collect them for minutes. One
 * memory-reducing collection right after them returns those pages at once: ~1.8 MB of the primary's RSS
 * at ready. Only where gc is exposed (bin/switchyard.cjs gives the primary --expose-gc).
 */
function releaseGarbage(): void {
  const gc = (globalThis as { gc?: NodeJS.GCFunction }).gc;
  if (gc !== undefined) setImmediate(() => gc(MEMORY_REDUCING_GC));
}
