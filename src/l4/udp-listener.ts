// L4 UDP listener (`protocol: udp`): datagrams only, no parsing. A client flow is one source address:port.
// Its first datagram passes the access lists, picks a backend (the pool's balancer with the client
// address, so ip_hash and consistent_hash:ip work) and opens one socket connected to that backend (what
// nginx stream does): the backend's replies on it go back to that client from the listener's address.
// The flow keeps its backend until no datagram has passed either way for timeouts.udp_idle; a flow whose
// backend went unhealthy (or was ejected) is re-picked on its next datagram, one on a draining backend
// carries on. At limits.max_flows a new flow evicts the least recently used one. One access-log line
// per flow, when it ends.
import dgram from 'node:dgram';
import net from 'node:net';
import type { ListenerConfig, PoolConfig } from '../config/index.ts';
import { systemClock, type Clock, type Component } from '../core/index.ts';
import { backendId, type Lease, type LeaseOutcome } from '../pool/index.ts';
import { DatagramGate, type DatagramGateStatus } from '../listener/index.ts';
import { ClientBalanceInput } from './balance-input.ts';
import { FlowTable, type TableFlow } from './flow-table.ts';
import { proxyHeaderV2 } from './proxy-protocol.ts';
import type { TcpListenerDeps } from './tcp-listener.ts';

/** Datagrams of a new flow held while its upstream socket connects; more are dropped (UDP may lose them). */
const PENDING_MAX = 16;

/** Why a flow ended, as its access-log outcome. */
type FlowEnd = 'idle' | 'evicted' | 'failover' | 'connect_error' | 'reset' | 'closed';

interface Flow extends TableFlow {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly lease: Lease;
  readonly socket: dgram.Socket;
  /** The PROXY v2 header prepended to each datagram, when proxy_protocol is v2. */
  readonly header: Buffer | undefined;
  /** Datagrams waiting for the upstream socket to connect; undefined once it has. */
  pending: Buffer[] | undefined;
  readonly started: number;
  datagramsIn: number;
  datagramsOut: number;
  bytesIn: number;
  bytesOut: number;
  ended: boolean;
}

export interface UdpListenerStatus {
  name: string;
  pool: string;
  address: { host: string; port: number } | undefined;
  /** Client flows open now, in this worker. */
  flows: number;
  flows_opened: number;
  flows_expired: number;
  /** Flows ended early because max_flows was reached (the least recently used one goes). */
  flows_evicted: number;
  /** Flows re-picked because their backend went unhealthy. */
  failovers: number;
  datagrams_in: number;
  datagrams_out: number;
  /** Datagrams dropped because the pool had no backend to give a new flow. */
  dropped_no_backend: number;
  filter: DatagramGateStatus;
}

export class UdpListener implements Component {
  private config: ListenerConfig;
  private deps: TcpListenerDeps;
  private readonly clock: Clock;
  private readonly gate: DatagramGate;
  private readonly flows = new FlowTable<Flow>();
  private socket: dgram.Socket | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private counters = { opened: 0, expired: 0, evicted: 0, failovers: 0, datagramsIn: 0, datagramsOut: 0, noBackend: 0 };

  constructor(config: ListenerConfig, deps: TcpListenerDeps) {
    this.config = config;
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.gate = new DatagramGate(config);
  }

  async start(): Promise<void> {
    const { host, port } = this.config.listen;
    // reusePort: every worker binds the address and the kernel hashes a source address:port to one of
    // them, so a client flow always reaches the worker that holds it.
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reusePort: process.platform === 'linux' });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.deps.logger.warn({ listener: this.config.name, err: err.message }, 'udp listener socket error'));
    socket.on('message', (message, source) => this.onDatagram(message, source.address, source.port));
    this.scheduleSweep();
  }

  address(): { host: string; port: number } {
    return { host: this.config.listen.host, port: this.socket?.address().port ?? this.config.listen.port };
  }

  status(): UdpListenerStatus {
    const c = this.counters;
    return {
      name: this.config.name,
      pool: this.config.pool ?? '',
      address: this.socket ? this.address() : undefined,
      flows: this.flows.size,
      flows_opened: c.opened,
      flows_expired: c.expired,
      flows_evicted: c.evicted,
      failovers: c.failovers,
      datagrams_in: c.datagramsIn,
      datagrams_out: c.datagramsOut,
      dropped_no_backend: c.noBackend,
      filter: this.gate.status(),
    };
  }

  /**
   * Reload: new flows use the new pool and lists; an open flow ends when its listener now names another
   * pool, when the new access list refuses its source, or when its backend left the pool.
   */
  updateConfig(config: ListenerConfig, pools: TcpListenerDeps['pools'], poolConfigs: Readonly<Record<string, PoolConfig>>): void {
    const samePool = config.pool === this.config.pool;
    this.config = config;
    this.gate.update(config);
    this.deps = { ...this.deps, pools };
    const backends = new Set(poolConfigs[config.pool!]?.backends.map((backend) => backendId(backend.address.host, backend.address.port)));
    for (const flow of [...this.flows.values()]) {
      if (!samePool || !this.gate.permits(flow.address) || !backends.has(flow.lease.backend.id)) this.end(flow, 'closed');
    }
    this.scheduleSweep();
  }

  /**
   * A datagram protocol has nothing in flight to finish: the socket closes at once, with its flows (a reply
   * still on its way is lost and the client asks again, as it would after any lost datagram).
   */
  async drain(): Promise<void> {
    await this.stop();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const flow of [...this.flows.values()]) this.end(flow, 'closed');
    this.flows.clear();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private scheduleSweep(): void {
    clearInterval(this.sweeper);
    // idle flows are found within a quarter of udp_idle (at most a second late)
    const every = Math.max(50, Math.min(1000, this.config.timeouts.udp_idle / 4));
    this.sweeper = setInterval(() => this.sweep(), every).unref();
  }

  private sweep(): void {
    for (const flow of this.flows.takeIdle(this.clock.monotonic() - this.config.timeouts.udp_idle)) {
      this.counters.expired++;
      this.end(flow, 'idle');
    }
  }

  private onDatagram(message: Buffer, address: string, port: number): void {
    this.counters.datagramsIn++;
    const key = `${address} ${port}`;
    const now = this.clock.monotonic();
    let flow = this.flows.get(key);
    if (flow !== undefined) {
      const state = flow.lease.backend.state;
      if (state === 'unhealthy' || state === 'ejected') {
        // failover: this datagram opens a new flow on a backend the pool still offers
        this.counters.failovers++;
        this.end(flow, 'failover');
        flow = undefined;
      } else {
        this.flows.touch(key, flow, now);
      }
    }
    if (flow === undefined) {
      if (!this.gate.admit(address)) return;
      flow = this.open(key, address, port, now);
      if (flow === undefined) {
        this.counters.noBackend++;
        return;
      }
    }
    flow.datagramsIn++;
    flow.bytesIn += message.length;
    if (flow.pending === undefined) this.sendUp(flow, message);
    else if (flow.pending.length < PENDING_MAX) flow.pending.push(message);
  }

  private open(key: string, address: string, port: number, now: number): Flow | undefined {
    const lease = this.deps.pools.get(this.config.pool!)?.pick(new ClientBalanceInput(address));
    if (lease === undefined) return undefined;
    if (this.flows.size >= this.config.limits.max_flows) {
      const oldest = this.flows.oldest();
      if (oldest !== undefined) {
        this.counters.evicted++;
        this.end(oldest[1], 'evicted');
      }
    }
    const backend = lease.backend;
    const socket = dgram.createSocket(net.isIPv6(backend.host) ? 'udp6' : 'udp4');
    const header = this.config.proxy_protocol === 'v2' ? proxyHeaderV2({ sourceAddress: address, sourcePort: port, destinationAddress: this.config.listen.host, destinationPort: this.address().port }, 'dgram') : undefined;
    const flow: Flow = { key, address, port, lease, socket, header, pending: [], started: now, lastSeen: now, datagramsIn: 0, datagramsOut: 0, bytesIn: 0, bytesOut: 0, ended: false };
    this.counters.opened++;
    this.flows.add(key, flow);
    socket.on('message', (reply) => this.onReply(flow, reply));
    // a connected UDP socket reports the backend's ICMP port unreachable as ECONNREFUSED
    socket.on('error', (err: NodeJS.ErrnoException) => this.end(flow, err.code === 'ECONNREFUSED' ? 'connect_error' : 'reset'));
    socket.connect(backend.port, backend.host, () => {
      const pending = flow.pending!;
      flow.pending = undefined;
      if (!flow.ended) for (const message of pending) this.sendUp(flow, message);
    });
    return flow;
  }

  private sendUp(flow: Flow, message: Buffer): void {
    if (flow.header === undefined) flow.socket.send(message);
    else flow.socket.send([flow.header, message]);
  }

  private onReply(flow: Flow, reply: Buffer): void {
    const socket = this.socket;
    if (flow.ended || socket === undefined) return;
    this.counters.datagramsOut++;
    flow.datagramsOut++;
    flow.bytesOut += reply.length;
    this.flows.touch(flow.key, flow, this.clock.monotonic());
    socket.send(reply, flow.port, flow.address);
  }

  private end(flow: Flow, why: FlowEnd): void {
    if (flow.ended) return;
    flow.ended = true;
    this.flows.delete(flow.key, flow);
    flow.socket.close();
    flow.lease.release(leaseOutcome(flow, why));
    if (!this.config.access_log) return;
    this.deps.accessLog.info({
      listener: this.config.name,
      client: flow.address,
      client_port: flow.port,
      pool: this.config.pool,
      backend: flow.lease.backend.id,
      outcome: why,
      datagrams_in: flow.datagramsIn,
      datagrams_out: flow.datagramsOut,
      bytes_in: flow.bytesIn,
      bytes_out: flow.bytesOut,
      total_ms: Math.round((this.clock.monotonic() - flow.started) * 1000) / 1000,
    });
  }
}

/**
 * What a flow tells the pool (least_conn counts, passive health): an ICMP refusal is a connect error, and
 * a flow that sent datagrams and got no reply before it idled out is a timeout.
 */
function leaseOutcome(flow: Flow, why: FlowEnd): LeaseOutcome {
  if (why === 'connect_error' || why === 'reset') return why;
  if (why === 'failover') return 'cancelled';
  if (why === 'idle' && flow.datagramsOut === 0 && flow.datagramsIn > 0) return 'timeout';
  return 'success';
}
