// DnsPlane: the DNS server of the primary process (it holds the health view that `pool:` records answer
// from). Started on the first config that has `dns:`, reloaded in place after, stopped when the section goes.
import type { DnsConfig } from '../config/index.ts';
import type { Logger } from '../core/index.ts';
import type { DnsServer, DnsStatus } from '../dns/index.ts';
import type { PoolRegistry } from '../pool/index.ts';

export interface DnsPlaneOptions {
  logger: Logger;
  baseDir: string;
  /** The config's data_dir, resolved (dns.tls.self_signed keeps its certificate there). */
  dataDir: string;
  pools: () => PoolRegistry | undefined;
}

export class DnsPlane {
  private readonly options: DnsPlaneOptions;
  private server: DnsServer | undefined;
  private listenKey = '';

  constructor(options: DnsPlaneOptions) {
    this.options = options;
  }

  async apply(config: DnsConfig | undefined): Promise<void> {
    const key = JSON.stringify(config?.listen ?? null);
    if (this.server && config && key === this.listenKey) {
      await this.server.reload(config);
      return;
    }
    const previous = this.server;
    this.server = undefined;
    if (previous) await previous.stop();
    if (!config) return;
    const pools = this.options.pools;
    // Loaded on first use: an edge without `dns:` never pays for the DNS component's start-up.
    const { createDnsServer } = await import('../dns/index.ts');
    const server = createDnsServer(config, {
      logger: this.options.logger,
      baseDir: this.options.baseDir,
      dataDir: this.options.dataDir,
      pools: {
        healthyAddresses: (name) => pools()?.get(name)?.healthyAddresses(),
        onChange: (listener) => {
          pools()?.onChange(() => listener());
        },
      },
    });
    await server.start();
    this.server = server;
    this.listenKey = key;
  }

  addresses(): unknown {
    return this.server?.addresses();
  }

  status(): DnsStatus | undefined {
    return this.server?.status();
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }
}
