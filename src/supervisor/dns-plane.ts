// DnsPlane: the DNS server of one traffic plane (each worker, or the primary with `workers: 0`). Every
// worker binds the same `dns.listen` addresses (SO_REUSEPORT; the primary chose the ports, so port 0 means
// one port everywhere) and answers `pool:` records from its own pools, whose health verdicts the primary
// pushes to every worker as they change. Started on the first config that has `dns:`, reloaded in place
// after, restarted when `dns.listen` changes, stopped when the section goes.
import type { DnsConfig } from '../config/index.ts';
import type { Logger } from '../core/index.ts';
import type { BoundAddress, ChainOutcome, ChallengeTxtSource, DnsServer, DnsStatus } from '../dns/index.ts';
import type { PoolRegistry } from '../pool/index.ts';

export interface DnsPlaneOptions {
  logger: Logger;
  /** The config's data_dir, resolved (dns.tls.self_signed keeps its certificate there). */
  dataDir: string;
  /** The plane's current pools (read per answer: a reload swaps the registry). */
  pools: () => PoolRegistry | undefined;
  /** Pending ACME dns-01 TXT records (the traffic plane's challenge board). */
  challenges?: ChallengeTxtSource;
}

export class DnsPlane {
  private readonly options: DnsPlaneOptions;
  private server: DnsServer | undefined;
  private listenKey = '';
  private config: DnsConfig | undefined;

  constructor(options: DnsPlaneOptions) {
    this.options = options;
  }

  /** The config applied last (the one a failed reload rolls back to). */
  current(): DnsConfig | undefined {
    return this.config;
  }

  async apply(config: DnsConfig | undefined, baseDir: string): Promise<void> {
    const key = JSON.stringify(config?.listen ?? null);
    if (this.server && config && key === this.listenKey) {
      await this.server.reload(config);
      this.config = config;
      return;
    }
    const previous = this.server;
    this.server = undefined;
    this.config = undefined;
    if (previous) await previous.stop();
    if (!config) return;
    const pools = this.options.pools;
    // Loaded on first use: a worker without `dns:` never loads the DNS component.
    const { createDnsServer } = await import('../dns/index.ts');
    const server = createDnsServer(config, {
      logger: this.options.logger,
      baseDir,
      dataDir: this.options.dataDir,
      pools: { healthyAddresses: (name) => pools()?.get(name)?.healthyAddresses() },
      challenges: this.options.challenges,
    });
    try {
      await server.start();
    } catch (err) {
      await server.stop();
      throw err;
    }
    this.server = server;
    this.config = config;
    this.listenKey = key;
  }

  /** DNS over HTTPS: one message answered by this plane's engine; 'drop' when DNS is not configured. */
  answer(message: Buffer, clientAddress: string): ChainOutcome | Promise<ChainOutcome> {
    return this.server === undefined ? 'drop' : this.server.answer(message, clientAddress);
  }

  addresses(): BoundAddress[] {
    return this.server?.addresses() ?? [];
  }

  status(): DnsStatus | undefined {
    return this.server?.status();
  }

  async drain(deadline: number): Promise<void> {
    await this.server?.drain(deadline);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.config = undefined;
    await server?.stop();
  }
}
