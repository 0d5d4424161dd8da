// The DNS component's public entry: authoritative zones, caching resolver, health-aware pool answers.
import type { DnsConfig } from '../config/index.ts';
import { DnsServer, type DnsServerDeps } from './server.ts';

export { DnsServer, type DnsServerDeps, type DnsStatus } from './server.ts';
export type { PoolAddress, PoolAddressSource } from './plugins/pool-answers.ts';
export type { DnsHandler, DnsRequest, DnsResult } from './chain.ts';
export type { BoundAddress } from './transport.ts';

export function createDnsServer(config: DnsConfig, deps: DnsServerDeps): DnsServer {
  return new DnsServer(config, deps);
}
