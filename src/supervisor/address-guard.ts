// Refuses to start a listener on an address another process already serves. Workers bind with
// SO_REUSEPORT (so they can share a port), which would also let a second, unrelated `switchyard start`
// join the same port silently and split its traffic; a bind without SO_REUSEPORT fails on any taken port.
import dgram from 'node:dgram';
import net from 'node:net';
import { ConfigError } from '../core/index.ts';

export interface ListenAddress {
  name: string;
  host: string;
  port: number;
  /** Default tcp; udp for `dns.listen` udp:// addresses (the DNS workers bind them with SO_REUSEPORT too). */
  transport?: 'tcp' | 'udp';
}

function probe(host: string, port: number, transport: 'tcp' | 'udp'): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    if (transport === 'udp') {
      const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err));
      socket.bind({ address: host, port, exclusive: true }, () => socket.close(() => resolve(undefined)));
      return;
    }
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Throws a ConfigError naming every listener whose fixed port is taken (port 0 is always free). */
export async function assertAddressesFree(file: string, addresses: readonly ListenAddress[]): Promise<void> {
  const problems: string[] = [];
  for (const address of addresses) {
    if (address.port === 0) continue;
    const err = await probe(address.host, address.port, address.transport ?? 'tcp');
    if (err?.code === 'EADDRINUSE') problems.push(`${file}: listener ${address.name}: ${address.host}:${address.port} is already in use by another process (is switchyard already running?)`);
    else if (err) problems.push(`${file}: listener ${address.name}: cannot listen on ${address.host}:${address.port}: ${err.code ?? err.message}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
