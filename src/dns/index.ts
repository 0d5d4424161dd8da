// The DNS component's public entry: authoritative zones, caching resolver, health-aware pool answers.
import type { DnsConfig } from '../config/index.ts';
import { DnsServer, loadZones, type DnsServerDeps } from './server.ts';
import { summarizeDns } from './summary.ts';

export { DnsServer, type DnsServerDeps, type DnsStatus } from './server.ts';
export type { ResolverStatus } from './handlers.ts';
export type { PoolAddress, PoolAddressSource } from './plugins/pool-answers.ts';
export type { ChallengeTxtSource } from './plugins/acme-challenge.ts';
export type { DnsHandler, DnsRequest, DnsResult, ChainOutcome } from './chain.ts';
export type { BoundAddress } from './transport.ts';

export function createDnsServer(config: DnsConfig, deps: DnsServerDeps): DnsServer {
  return new DnsServer(config, deps);
}

/**
 * Validates the zones of a config without serving them (for `switchyard check`): reads the zone files and
 * root hints and throws a ConfigError naming file:line for the first problems found. Returns the summary
 * lines for the DNS section.
 */
export async function checkDnsConfig(config: DnsConfig, baseDir: string): Promise<string[]> {
  await loadZones(config, baseDir, Date.now());
  if (config.resolver?.root_hints) {
    const { loadRootHints } = await import('./resolver/index.ts');
    const path = await import('node:path');
    await loadRootHints(path.resolve(baseDir, config.resolver.root_hints));
  }
  return summarizeDns(config);
}
