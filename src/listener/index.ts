// The listener layer's public entry: what every kind of listener (http, https, h2c, tcp, forward_proxy; later
// HTTP/3) runs on an accepted connection before its protocol sees a byte (udp listeners: DatagramGate).
//
//   new ConnectionGate(listenerConfig)   built once per listener; update(config) on reload
//     admit(socket, pass)                max_connections → PROXY protocol (accept_proxy_protocol sources)
//                                        → access allow/deny on the real client → pass(socket)
//     screen(peer) / readProxyHeader / release   the same, split, for accept paths that build the socket
//     status()                           counters for the listener's status
//   setClient / carryClient              make a socket report the client a PROXY header named
//   parseProxyHeader                     the strict, bounded v1/v2 decoder
//   new DatagramGate(listenerConfig)     a udp listener's filters: access allow/deny on a datagram's source
//   CidrSet                              address ranges with a memoised contains()
export { ConnectionGate, REFUSE, ACCEPT, READ_PROXY_HEADER, type Verdict, type ConnectionGateStatus } from './gate.ts';
export { setClient, carryClient, type ClientAddress } from './client-address.ts';
export { parseProxyHeader, PROXY_HEADER_MAX, type ProxyHeader, type ProxyParse } from './proxy-header.ts';
export { CidrSet } from './cidr-set.ts';
export { DatagramGate, type DatagramGateStatus } from './datagram-gate.ts';
