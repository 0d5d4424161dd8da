// Config snapshots for worker processes. The primary validates the YAML once and sends the resulting Config
// object (structured clone over cluster IPC, serialization 'advanced'), so a worker loads neither the YAML
// parser nor the schema (yaml + zod cost ~30 MB of memory per process) and every worker runs the very
// same snapshot. A structured clone keeps data, not classes: the one class in a Config, the parsed CIDR
// ranges (ipaddr.js objects), is rebuilt on the worker side.
import ipaddr from 'ipaddr.js';
import type { Cidr, Config, LoadedConfig } from '../config/index.ts';

export interface ConfigSnapshot {
  /** What the traffic plane needs: no admin section and no zones (the primary runs those). */
  config: Config;
  file: string;
  baseDir: string;
}

/** Primary side: the snapshot to send, listeners with port 0 given the port every worker must bind. */
export function snapshotOf(loaded: LoadedConfig, ports: Readonly<Record<string, number>>): ConfigSnapshot {
  const listeners = loaded.config.listeners.map((listener) => ({ ...listener, listen: { ...listener.listen, port: ports[listener.name] ?? listener.listen.port } }));
  // Of dns, a worker reads only where the resolver answers (forward proxies send their queries there):
  // the listen addresses and resolver settings travel, the zones and the resolver's client list do not.
  const dns = loaded.config.dns?.resolver ? { ...loaded.config.dns, zones: [], resolver: { ...loaded.config.dns.resolver, allow: [] } } : undefined;
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
    ...(listener.allow ? { allow: { ...listener.allow, clients: listener.allow.clients?.map(reviveCidr), destinations: listener.allow.destinations?.map(reviveCidr) } } : {}),
    ...(listener.accept_proxy_protocol ? { accept_proxy_protocol: listener.accept_proxy_protocol.map(reviveCidr) } : {}),
    ...(listener.access ? { access: { allow: listener.access.allow?.map(reviveCidr), deny: listener.access.deny?.map(reviveCidr) } } : {}),
  }));
  return { config: { ...snapshot.config, listeners }, file: snapshot.file, baseDir: snapshot.baseDir };
}
