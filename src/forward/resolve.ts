// Destination name resolution: through Switchyard's own DNS server when the config runs a caching
// resolver (`dns.resolver`), so the proxy sees the same zones, health-aware answers and cache as every
// client of it; otherwise the operating system's (getaddrinfo, /etc/hosts included). The proxy connects
// to the address it resolved and checked, never resolving again, so a rebinding answer cannot slip past
// the SSRF rule between check and connect.
import dns from 'node:dns';
import net from 'node:net';

export interface ResolverAddress {
  host: string;
  port: number;
}

export class DestinationResolver {
  private readonly own: dns.promises.Resolver | undefined;

  /** `server`: Switchyard's own DNS (UDP) address when dns.resolver is configured. */
  constructor(server: ResolverAddress | undefined, timeoutMs: number) {
    if (server === undefined) return;
    this.own = new dns.promises.Resolver({ timeout: Math.max(100, Math.floor(timeoutMs / 2)), tries: 2 });
    this.own.setServers([net.isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`]);
  }

  /** One address of `host` (an IP literal is its own answer; IPv4 first). Rejects when there is none. */
  async lookup(host: string): Promise<string> {
    if (net.isIP(host) !== 0) return host;
    if (this.own === undefined) return (await dns.promises.lookup(host, { family: 0, order: 'ipv4first' })).address;
    try {
      const v4 = await this.own.resolve4(host);
      if (v4.length > 0) return v4[0];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENODATA' && (err as NodeJS.ErrnoException).code !== 'ENOTFOUND') throw err;
    }
    const v6 = await this.own.resolve6(host);
    if (v6.length === 0) throw new Error(`no address for ${host}`);
    return v6[0];
  }
}
