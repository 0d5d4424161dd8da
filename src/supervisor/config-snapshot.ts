// Config snapshots for worker processes. The primary validates the YAML once and sends the resulting Config
// object (structured clone over cluster IPC, serialization 'advanced'), so a worker loads neither the YAML
// parser nor the schema (yaml + zod cost ~30 MB of memory per process) and every worker runs the very
// same snapshot. A structured clone keeps data, not classes: the one class in a Config, the parsed CIDR
// ranges (ipaddr.js objects), is rebuilt on the worker side.
import ipaddr from 'ipaddr.js';
import type { Cidr, Config, DnsConfig, LoadedConfig } from '../config/index.ts';

export interface ConfigSnapshot {
  /** What the traffic plane needs (listeners and DNS): no admin section (the primary runs it). */
  config: Config;
  file: string;
  baseDir: string;
}

/**
 * Primary side: the snapshot to send, listeners with port 0 given the port every worker must bind, and
 * `dns.listen` as given (the worker pool resolves its port-0 entries the same way, dns-ports.ts).
 */
export function snapshotOf(loaded: LoadedConfig, ports: Readonly<Record<string, number>>, dnsListen?: DnsConfig['listen']): ConfigSnapshot {
  const listeners = loaded.config.listeners.map((listener) => ({ ...listener, listen: { ...listener.listen, port: ports[listener.name] ?? listener.listen.port } }));
  const dns = loaded.config.dns && { ...loaded.config.dns, listen: dnsListen ?? loaded.config.dns.listen };
  return { config: { ...loaded.config, listeners, dns, admin: undefined }, file: loaded.file, baseDir: loaded.baseDir };
}

type ClonedAddress = { octets: number[] } | { parts: number[]; zoneId?: string };

function reviveCidr([address, bits]: Cidr): Cidr {
  const cloned = address as unknown as ClonedAddress;
  if ('octets' in cloned) return [new ipaddr.IPv4(cloned.octets), bits];
  const v6 = new ipaddr.IPv6(cloned.parts);
  if (cloned.zoneId !== undefined) Object.assign(v6, { zoneId: cloned.zoneId });
  return [v6, bits];
}

/** Worker side: the received snapshot as a LoadedConfig, with its CIDR ranges as ipaddr.js objects again. */
export function loadedFromSnapshot(snapshot: ConfigSnapshot): LoadedConfig {
  const listeners = snapshot.config.listeners.map((listener) => ({
    ...listener,
    forwarded: { ...listener.forwarded, trusted_proxies: listener.forwarded.trusted_proxies.map(reviveCidr) },
    ...(listener.allow ? { allow: { ...listener.allow, clients: listener.allow.clients.map(reviveCidr) } } : {}),
    ...(listener.accept_proxy_protocol ? { accept_proxy_protocol: listener.accept_proxy_protocol.map(reviveCidr) } : {}),
    ...(listener.access ? { access: { allow: listener.access.allow?.map(reviveCidr), deny: listener.access.deny?.map(reviveCidr) } } : {}),
  }));
  const dns = snapshot.config.dns;
  const revivedDns = dns?.resolver ? { ...dns, resolver: { ...dns.resolver, allow: dns.resolver.allow.map(reviveCidr) } } : dns;
  return { config: { ...snapshot.config, listeners, dns: revivedDns }, file: snapshot.file, baseDir: snapshot.baseDir };
}
