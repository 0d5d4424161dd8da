// L4 public entry: TCP proxying and UDP flow balancing, with optional PROXY protocol.
import type { ListenerConfig } from '../config/index.ts';
import { TcpListener, type TcpListenerDeps } from './tcp-listener.ts';
import { UdpListener } from './udp-listener.ts';

export { TcpListener, type TcpListenerDeps, type TcpListenerStatus, type L4Pool } from './tcp-listener.ts';
export { UdpListener, type UdpListenerStatus } from './udp-listener.ts';
export { proxyHeaderV1, proxyHeaderV2, type ConnectionEnds } from './proxy-protocol.ts';

export function createTcpListener(listener: ListenerConfig, deps: TcpListenerDeps): TcpListener {
  return new TcpListener(listener, deps);
}

export function createUdpListener(listener: ListenerConfig, deps: TcpListenerDeps): UdpListener {
  return new UdpListener(listener, deps);
}
