// Port 0 in `dns.listen` with workers: every worker must bind the same port, so the primary picks it once
// (as worker-pool.ts does for listeners) and sends the resolved addresses in the snapshot. As when one
// process serves DNS, udp:// and tcp:// entries of one host that both ask for port 0 get one port.
import dgram from 'node:dgram';
import net from 'node:net';
import type { DnsConfig } from '../config/index.ts';

type DnsListen = DnsConfig['listen'];

function freeTcp(host: string, port: number): Promise<number | undefined> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen({ host, port, exclusive: true }, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

function freeUdp(host: string): Promise<{ port: number; socket: dgram.Socket }> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: 0, address: host, exclusive: true }, () => resolve({ port: socket.address().port, socket }));
  });
}

/** A port free for both UDP and TCP on host (bounded retries: the UDP port the OS picks may be taken for TCP). */
async function freeUdpAndTcp(host: string): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const { port, socket } = await freeUdp(host);
    const tcp = await freeTcp(host, port);
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (tcp !== undefined) return port;
  }
  throw new Error(`dns: no port free for both UDP and TCP on ${host} after 20 attempts`);
}

/** `listen` with every port 0 replaced by a free port (udp and tcp of one host sharing one). */
export async function resolveDnsPorts(listen: DnsListen): Promise<DnsListen> {
  const shared = new Map<string, number>();
  const resolved: DnsListen = [];
  for (const entry of listen) {
    if (entry.port !== 0) {
      resolved.push(entry);
      continue;
    }
    if (entry.transport === 'tls') {
      const port = await freeTcp(entry.host, 0);
      if (port === undefined) throw new Error(`dns: cannot find a free TCP port on ${entry.host}`);
      resolved.push({ ...entry, port });
      continue;
    }
    const pairs = listen.some((other) => other.host === entry.host && other.port === 0 && other.transport !== 'tls' && other.transport !== entry.transport);
    if (!pairs) {
      const port = entry.transport === 'udp' ? await freeUdp(entry.host).then(({ port, socket }) => new Promise<number>((resolve) => socket.close(() => resolve(port)))) : await freeTcp(entry.host, 0);
      if (port === undefined) throw new Error(`dns: cannot find a free port on ${entry.host}`);
      resolved.push({ ...entry, port });
      continue;
    }
    let port = shared.get(entry.host);
    if (port === undefined) {
      port = await freeUdpAndTcp(entry.host);
      shared.set(entry.host, port);
    }
    resolved.push({ ...entry, port });
  }
  return resolved;
}
