// The client a PROXY protocol header names replaces the socket's peer address for everything after the
// listener layer: the protocol handlers (L7 connections, HTTP/2 frontends, the L4 tunnel) read
// socket.remoteAddress / remotePort as they always do, so forwarded headers, the access log, ip_hash
// and consistent_hash: ip all see the real client without knowing PROXY protocol exists.
import net from 'node:net';

export interface ClientAddress {
  address: string;
  port: number;
}

/** Makes `socket` report `client` as its peer (own properties shadow net.Socket's getters). */
export function setClient(socket: net.Socket, client: ClientAddress): void {
  Object.defineProperties(socket, {
    remoteAddress: { value: client.address, configurable: true },
    remotePort: { value: client.port, configurable: true },
    remoteFamily: { value: net.isIPv6(client.address) ? 'IPv6' : 'IPv4', configurable: true },
  });
}

/**
 * A TLS socket wraps the raw socket the PROXY header was read from: it takes over the client that header
 * named (node's TLSSocket keeps the socket it wraps as `_parent`). A no-op when no header replaced it.
 */
export function carryClient(tlsSocket: net.Socket): void {
  const raw = (tlsSocket as unknown as { _parent?: net.Socket })._parent;
  if (raw !== undefined && raw !== null && Object.hasOwn(raw, 'remoteAddress')) {
    setClient(tlsSocket, { address: raw.remoteAddress ?? '', port: raw.remotePort ?? 0 });
  }
}
