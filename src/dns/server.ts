// DnsServer: the Component that owns the listeners, the current engine, zone-file watching and reload.
import diagnostics from 'node:diagnostics_channel';
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { ConfigError, systemClock, type Clock, type Component, type HasStatus, type Logger, type TimerHandle } from '../core/index.ts';
import type { DnsConfig, DnsTlsConfig } from '../config/index.ts';
import { createTlsTerminator, type TlsTerminator } from '../tls/index.ts';
import type { ChainOutcome } from './chain.ts';
import { DnsEngine, newCounters, type DnsCounters } from './engine.ts';
import type { ChallengeTxtSource } from './plugins/acme-challenge.ts';
import { buildHandlers, ResolverState, type ResolverStatus } from './handlers.ts';
import type { PoolAddressSource } from './plugins/pool-answers.ts';
import { ResponseRateLimiter, type RateVerdict } from './rate-limit.ts';
import { TcpListener, type TcpOptions } from './tcp.ts';
import { UdpListener, type BoundAddress } from './transport.ts';
import { keyToText } from './wire/name.ts';
import { nameByType, Rcode } from './wire/constants.ts';
import { loadZone, zoneFilePath } from './zone/load.ts';
import type { Zone } from './zone/zone.ts';
import { ZoneSet } from './zone/zone-set.ts';

export interface DnsServerDeps {
  logger: Logger;
  /** Directory zone files, root hints and certificates resolve against (the config file's). */
  baseDir: string;
  /** Where `dns.tls.self_signed` keeps its CA and certificate (the config's data_dir, resolved). */
  dataDir?: string;
  pools?: PoolAddressSource;
  /** TXT records of pending ACME dns-01 challenges (src/acme), answered inside our zones. */
  challenges?: ChallengeTxtSource;
  clock?: Clock;
  /** Random source for answer order (tests pass a seeded one). */
  random?: () => number;
  /** UDP through the recvmmsg/sendmmsg addon when it is built (default true); false: node:dgram (A/B benchmarks). */
  udpBatch?: boolean;
}

export interface DnsStatus {
  listening: BoundAddress[];
  zones: { origin: string; serial: number; records: number; source: string }[];
  counters: Omit<DnsCounters, 'query_types' | 'response_codes'>;
  /** Queries by transport and type name ("A", "TYPE65280"), responses by transport and rcode name. */
  queries_by_type: Record<'udp' | 'tcp', Record<string, number>>;
  responses_by_rcode: Record<'udp' | 'tcp', Record<string, number>>;
  resolver?: ResolverStatus;
  tcp_connections: number;
  /** How UDP datagrams move: 'batch' (recvmmsg/sendmmsg addon) or 'dgram' (node:dgram, without the addon). */
  udp_io?: 'batch' | 'dgram';
}

/** `switchyard:dns:zone-file` events: { file, ok, serial?, error? } after each re-read of a changed zone file. */
const zoneFileChannel = diagnostics.channel('switchyard:dns:zone-file');

/** Quiet time after a zone file changes before it is re-read (editors write in several steps). */
const WATCH_DEBOUNCE_MS = 150;

/** Loads every zone of a config (files read asynchronously); throws one ConfigError listing every problem. */
export async function loadZones(config: DnsConfig, baseDir: string, now: number): Promise<Zone[]> {
  const results = await Promise.allSettled(config.zones.map((zone, index) => loadZone(zone, index, baseDir, now)));
  const issues: string[] = [];
  for (const result of results) {
    if (result.status === 'rejected') issues.push(...(result.reason instanceof ConfigError ? result.reason.issues : [String(result.reason)]));
  }
  const zones = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const seen = new Set<string>();
  for (const zone of zones) {
    if (seen.has(zone.originKey)) issues.push(`dns.zones: zone ${keyToText(zone.originKey)} is defined twice`);
    seen.add(zone.originKey);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return zones;
}

/** RFC 7858 3.2 / RFC 8310: DNS over TLS is "dot" in ALPN. */
const DOT_ALPN = ['dot'];

/** A TLS terminator for the tls:// addresses (the https listeners' certificate handling, reload and policy). */
async function startTls(tls: DnsTlsConfig, config: DnsConfig, deps: DnsServerDeps): Promise<TlsTerminator> {
  // a self-signed certificate also covers the addresses DoT listens on (wildcards name no host)
  const hosts = config.listen.filter((entry) => entry.transport === 'tls' && entry.host !== '0.0.0.0' && entry.host !== '::').map((entry) => entry.host);
  const endpoint = { name: 'dns', tls: { ...tls, alpn: DOT_ALPN, hsts: false as const, session_cache: false }, routes: [{ match: { host: hosts } }], timeouts: { header: config.tcp.io_timeout } };
  const terminator = createTlsTerminator(endpoint, { dataDir: deps.dataDir ?? path.resolve(deps.baseDir, 'data'), baseDir: deps.baseDir, logger: deps.logger, clock: deps.clock });
  await terminator.start();
  return terminator;
}

function tcpOptions(config: DnsConfig): TcpOptions {
  const tcp = config.tcp;
  return {
    idleTimeout: tcp.idle_timeout,
    ioTimeout: tcp.io_timeout,
    maxConnections: tcp.max_connections,
    maxConnectionsPerClient: tcp.max_connections_per_client,
    maxInFlight: tcp.max_in_flight,
  };
}

export class DnsServer implements Component, HasStatus<DnsStatus> {
  private config: DnsConfig;
  private readonly deps: DnsServerDeps;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly counters = newCounters();
  private engine: DnsEngine | undefined;
  private zones: Zone[] = [];
  private resolver: ResolverState | undefined;
  private readonly udp: UdpListener[] = [];
  private readonly tcp: TcpListener[] = [];
  private bound: BoundAddress[] = [];
  private watchers: FSWatcher[] = [];
  private readonly pendingReloads = new Map<number, TimerHandle>();
  private rateLimiter: ResponseRateLimiter | undefined;
  /** Certificates of the tls:// listeners (DNS over TLS). */
  private terminator: TlsTerminator | undefined;
  private readonly dot: TcpListener[] = [];
  private stopped = false;

  constructor(config: DnsConfig, deps: DnsServerDeps) {
    this.config = config;
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.zones = await loadZones(this.config, this.deps.baseDir, this.clock.now());
    await this.swapEngine(this.config, this.zones);
    const answer = (message: Buffer, transport: 'udp' | 'tcp', address: string) => this.engine!.answer(message, transport, address);
    // read through `this` so a reload can add, change or remove rate limiting
    const limit = (address: string): RateVerdict => this.rateLimiter?.check(address) ?? 'send';
    const onLimited = (): void => {
      this.counters.rate_limited++;
    };
    if (this.config.tls) this.terminator = await startTls(this.config.tls, this.config, this.deps);
    for (const entry of this.config.listen.filter((one) => one.transport === 'tls')) {
      const listener = new TcpListener(entry.host, answer, tcpOptions(this.config), this.clock, this.counters);
      this.useTls(listener);
      const port = await listener.listen(entry.port);
      this.bound.push({ transport: 'tls', host: entry.host, port });
      this.tcp.push(listener);
      this.dot.push(listener);
    }
    // group by host so that udp and tcp asking for port 0 on one host end up on the same port
    const hosts = [...new Set(this.config.listen.filter((entry) => entry.transport !== 'tls').map((entry) => entry.host))];
    for (const host of hosts) {
      const entries = this.config.listen.filter((entry) => entry.host === host);
      const udpEntry = entries.find((entry) => entry.transport === 'udp');
      const tcpEntry = entries.find((entry) => entry.transport === 'tcp');
      for (let attempt = 0; ; attempt++) {
        const udp = udpEntry ? new UdpListener(host, answer, limit, onLimited, { batch: this.deps.udpBatch }) : undefined;
        const tcp = tcpEntry ? new TcpListener(host, answer, tcpOptions(this.config), this.clock, this.counters) : undefined;
        const udpPort = udp ? await udp.listen(udpEntry!.port) : undefined;
        const sharedPort = udpEntry?.port === 0 && tcpEntry?.port === 0 ? udpPort! : tcpEntry?.port;
        try {
          const tcpPort = tcp ? await tcp.listen(sharedPort!) : undefined;
          if (udp) {
            this.bound.push({ transport: 'udp', host, port: udpPort! });
            this.udp.push(udp);
          }
          if (tcp) {
            this.bound.push({ transport: 'tcp', host, port: tcpPort! });
            this.tcp.push(tcp);
          }
          break;
        } catch (err) {
          await udp?.close();
          // the port the OS chose for UDP may be taken for TCP: choose again (bounded)
          if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || sharedPort !== udpPort || attempt >= 20) throw err;
        }
      }
    }
    this.watchZoneFiles();
    this.logger.info({ listen: this.bound, zones: this.zones.length, udp_io: this.udp[0]?.mode }, 'dns: listening');
  }

  private useTls(listener: TcpListener): void {
    const terminator = this.terminator!;
    listener.setTls(terminator.serverOptions(), (server) => terminator.attach(server));
  }

  addresses(): BoundAddress[] {
    return [...this.bound];
  }

  /**
   * One message from another transport (DNS over HTTPS): answered by the current engine under TCP's
   * rules (no truncation, 65535 bytes), counted with the TCP queries. 'drop' for a message DNS would not
   * answer at all (a response, or shorter than a header).
   */
  answer(message: Buffer, clientAddress: string): ChainOutcome | Promise<ChainOutcome> {
    const engine = this.engine;
    return engine === undefined ? 'drop' : engine.answer(message, 'tcp', clientAddress);
  }

  /** Builds the new zones completely, then swaps; a bad zone throws a ConfigError and the old zones stay. */
  async reload(config: DnsConfig): Promise<void> {
    const zones = await loadZones(config, this.deps.baseDir, this.clock.now());
    if (JSON.stringify(config.listen) !== JSON.stringify(this.config.listen)) {
      this.logger.warn('dns: listen addresses change on restart only');
    }
    // new certificates settings: start them first, so a bad certificate keeps the old ones serving
    const tlsChanged = config.tls && this.dot.length > 0 && JSON.stringify(config.tls) !== JSON.stringify(this.config.tls);
    const terminator = tlsChanged ? await startTls(config.tls!, config, this.deps) : undefined;
    try {
      await this.swapEngine(config, zones);
    } catch (err) {
      await terminator?.stop();
      throw err;
    }
    this.config = config;
    this.zones = zones;
    for (const listener of this.tcp) listener.setOptions(tcpOptions(config));
    if (terminator) {
      await this.terminator?.stop();
      this.terminator = terminator;
      for (const listener of this.dot) this.useTls(listener);
    }
    // No 'reloaded' line here: this is one part of a reload that may still be rolled back; the supervisor
    // announces it once the whole reload has committed.
    if (this.bound.length > 0) this.watchZoneFiles();
  }

  private async swapEngine(config: DnsConfig, zones: Zone[]): Promise<void> {
    const resolverKey = JSON.stringify(config.resolver ?? null);
    if (this.resolver?.key !== resolverKey) {
      const previous = this.resolver;
      this.resolver = config.resolver ? await ResolverState.create(config.resolver, resolverKey, this.deps.baseDir, this.clock, this.logger) : undefined;
      previous?.close();
    }
    if (!config.rate_limit) this.rateLimiter = undefined;
    else if (!this.rateLimiter || JSON.stringify(config.rate_limit) !== JSON.stringify(this.config.rate_limit)) {
      this.rateLimiter = new ResponseRateLimiter(config.rate_limit, this.clock);
    }
    const set = new ZoneSet(zones);
    const handlers = buildHandlers(config, set, this.resolver, this.deps.pools, this.deps.random ?? Math.random, this.counters, this.deps.challenges);
    this.engine = new DnsEngine(set, handlers, config.max_udp_size, this.logger, this.counters);
  }

  /** Re-reads one zone file after it changes; a broken edit is logged and the zone keeps its old data. */
  private async reloadZoneFile(index: number): Promise<void> {
    const config = this.config;
    const zoneConfig = config.zones[index];
    if (!zoneConfig || this.stopped) return;
    try {
      const zone = await loadZone(zoneConfig, index, this.deps.baseDir, this.clock.now());
      if (this.config !== config || this.stopped) return; // a full reload won the race
      const zones = this.zones.map((old, position) => (position === index ? zone : old));
      await this.swapEngine(config, zones);
      this.zones = zones;
      this.logger.info({ zone: keyToText(zone.originKey), serial: zone.serial }, 'dns: zone file reloaded');
      if (zoneFileChannel.hasSubscribers) zoneFileChannel.publish({ file: zone.source, ok: true, serial: zone.serial });
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'dns: zone file change refused, keeping the old zone');
      if (zoneFileChannel.hasSubscribers) zoneFileChannel.publish({ file: zoneConfig.file, ok: false, error: (err as Error).message });
    }
  }

  private watchZoneFiles(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    // watch directories, not files: editors replace files by rename, which ends a file watch
    const byDirectory = new Map<string, Map<string, number[]>>();
    this.config.zones.forEach((zone, index) => {
      const file = zoneFilePath(zone, this.deps.baseDir);
      if (file === undefined) return;
      const names = byDirectory.get(path.dirname(file)) ?? new Map<string, number[]>();
      names.set(path.basename(file), [...(names.get(path.basename(file)) ?? []), index]);
      byDirectory.set(path.dirname(file), names);
    });
    for (const [directory, names] of byDirectory) {
      try {
        const watcher = watch(directory, { persistent: false }, (_event, filename) => {
          const indexes = filename === null ? [...names.values()].flat() : names.get(filename.toString());
          for (const index of indexes ?? []) this.scheduleZoneReload(index);
        });
        watcher.on('error', () => watcher.close());
        this.watchers.push(watcher);
      } catch (err) {
        this.logger.warn({ directory, err: (err as Error).message }, 'dns: cannot watch zone directory');
      }
    }
  }

  private scheduleZoneReload(index: number): void {
    const pending = this.pendingReloads.get(index);
    if (pending !== undefined) this.clock.clearTimeout(pending);
    const timer = this.clock.setTimeout(() => {
      this.pendingReloads.delete(index);
      void this.reloadZoneFile(index);
    }, WATCH_DEBOUNCE_MS);
    timer.unref?.();
    this.pendingReloads.set(index, timer);
  }

  async drain(deadline: number): Promise<void> {
    for (const listener of this.tcp) listener.stopAccepting();
    await Promise.all(this.udp.map((listener) => listener.close()));
    while (this.tcp.some((listener) => listener.connections > 0) && this.clock.now() < deadline) {
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, Math.min(50, Math.max(1, deadline - this.clock.now()))));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    for (const timer of this.pendingReloads.values()) this.clock.clearTimeout(timer);
    this.pendingReloads.clear();
    await Promise.all([...this.udp.map((listener) => listener.close()), ...this.tcp.map((listener) => listener.close())]);
    this.udp.length = 0;
    this.tcp.length = 0;
    this.dot.length = 0;
    await this.terminator?.stop();
    this.terminator = undefined;
    this.bound = [];
    this.resolver?.close();
    this.resolver = undefined;
  }

  status(): DnsStatus {
    const { query_types, response_codes, ...counters } = this.counters;
    return {
      listening: this.addresses(),
      zones: this.zones.map((zone) => ({ origin: keyToText(zone.originKey), serial: zone.serial, records: zone.recordCount, source: zone.source })),
      counters: counters,
      queries_by_type: { udp: namedTypes(query_types.udp), tcp: namedTypes(query_types.tcp) },
      responses_by_rcode: { udp: namedRcodes(response_codes.udp), tcp: namedRcodes(response_codes.tcp) },
      resolver: this.resolver?.status(),
      tcp_connections: this.tcp.reduce((sum, listener) => sum + listener.connections, 0),
      udp_io: this.udp[0]?.mode,
    };
  }
}

const rcodeNames: Record<number, string> = Object.fromEntries(Object.entries(Rcode).map(([name, code]) => [code, name]));

function namedTypes(counts: Record<number, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([type, count]) => [nameByType[Number(type)] ?? `TYPE${type}`, count]));
}

function namedRcodes(counts: readonly number[]): Record<string, number> {
  const named: Record<string, number> = {};
  counts.forEach((count, code) => {
    if (count > 0) named[rcodeNames[code] ?? `RCODE${code}`] = count;
  });
  return named;
}
