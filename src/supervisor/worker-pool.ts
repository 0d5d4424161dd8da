// WorkerPool: the traffic plane as N worker processes (node:cluster). Each worker binds every listener and
// every `dns.listen` address itself with SO_REUSEPORT, so the kernel spreads connections and datagrams and
// no process relays sockets. The primary
// sends each config snapshot (the validated config object, config-snapshot.ts), health transitions and drain
// commands; a worker that dies is replaced and given the current snapshot.
import cluster, { type Worker } from 'node:cluster';
import dgram from 'node:dgram';
import net from 'node:net';
import type { LoadedConfig } from '../config/index.ts';
import type { PoolStatus } from '../pool/index.ts';
import { messageOf, type Logger } from '../core/index.ts';
import { snapshotOf, type ConfigSnapshot } from './config-snapshot.ts';
import { workerEntry } from './code-base.ts';
import type { FromWorker, ToWorker, WorkerReply } from './ipc.ts';
import type { TrafficMetrics } from './request-counters.ts';
import type { TrafficHandle } from './control-plane.ts';
import { inheritedExecArgv, type WorkerRuntime } from './worker-runtime.ts';
// lease.ts alone, on purpose: l7's index would load the whole HTTP data path and every filter (jose,
// ioredis, the cache…) into the primary, which only keeps the rate_limit buckets
// eslint-disable-next-line switchyard/component-imports
import { LeaseServer } from '../l7/filters/rate-limit/lease.ts';
import type { BoundAddress } from '../dns/index.ts';
import type { DnsConfig } from '../config/index.ts';
import { resolveDnsPorts } from './dns-ports.ts';
import type { RecentQuery, RecentRequest } from '../telemetry/index.ts';
import type { ChallengeSet } from '../acme/index.ts';

export interface WorkerPoolOptions {
  count: number;
  /** Hex; the same TLS session-ticket seed in every worker. */
  ticketSeed: string;
  /** The admin token, so workers add the edge's Server-Timing to requests that carry it. */
  traceToken?: string;
  logger: Logger;
  /** What a replacement worker must be told after the config: current health verdicts and admin drains. */
  replay: () => ToWorker[];
  /** V8 flags and environment of the worker processes (worker-runtime.ts: allocator, semi-space). */
  runtime: WorkerRuntime;
}

type Request = { type: 'apply'; snapshot: ConfigSnapshot; ticketSeed: string; traceToken?: string } | { type: 'draining'; pool: string; backend: string; draining: boolean } | { type: 'status' } | { type: 'metrics' } | { type: 'drain'; deadline: number } | { type: 'purge'; url?: string; prefix?: string } | { type: 'requests'; query: RecentQuery } | { type: 'acme_challenges'; set: ChallengeSet };

const replyTimeoutMs = 30_000;

/** A free TCP port on host: port 0 in the config must mean the same port in every worker. */
async function freeTcpPort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether the UDP port is free on host too (an https listener with http3 binds both). */
async function udpFree(host: string, port: number): Promise<boolean> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  const free = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind({ address: host, port, exclusive: true }, () => resolve(true));
  });
  try {
    socket.close();
  } catch {
    // a socket whose bind failed is not running
  }
  return free;
}

/** A free port for a listener: TCP, and UDP as well for an https listener with http3. */
async function freePort(listener: { listen: { host: string }; http3: { enabled: boolean } }): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await freeTcpPort(listener.listen.host);
    if (!listener.http3.enabled || attempt >= 20 || (await udpFree(listener.listen.host, port))) return port;
  }
}

export class WorkerPool implements TrafficHandle {
  private readonly options: WorkerPoolOptions;
  private readonly workers = new Set<Worker>();
  private nextId = 1;
  private readonly pending = new Map<number, { worker: Worker; resolve: (reply: WorkerReply) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  private snapshot: { loaded: LoadedConfig; ports: Record<string, number>; dnsListen?: DnsConfig['listen'] } | undefined;
  private entry: string | undefined;
  private stopping = false;
  private listenerAddresses: Record<string, { host: string; port: number }> = {};
  /** The instance's rate_limit buckets (`store: local`): workers lease tokens from here, so N workers admit one budget. */
  private readonly rateLeases = new LeaseServer();

  constructor(options: WorkerPoolOptions) {
    this.options = options;
  }

  async apply(loaded: LoadedConfig): Promise<void> {
    const ports: Record<string, number> = {};
    for (const listener of loaded.config.listeners) {
      const known = this.snapshot?.ports[listener.name];
      ports[listener.name] = listener.listen.port !== 0 ? listener.listen.port : known ?? (await freePort(listener));
    }
    // the same dns.listen keeps the ports it was given (port 0 stays the port the workers serve)
    const given = loaded.config.dns?.listen;
    const previous = this.snapshot;
    const dnsListen =
      given === undefined ? undefined : previous?.dnsListen && JSON.stringify(previous.loaded.config.dns?.listen) === JSON.stringify(given) ? previous.dnsListen : await resolveDnsPorts(given);
    if (this.workers.size === 0) await this.fork(this.options.count);
    await this.broadcast(this.applyRequest(loaded, ports, dnsListen));
    this.snapshot = { loaded, ports, dnsListen };
    this.listenerAddresses = Object.fromEntries(loaded.config.listeners.map((listener) => [listener.name, { host: listener.listen.host, port: ports[listener.name] }]));
  }

  setHealth(pool: string, backend: string, healthy: boolean, reason: string): void {
    const message: ToWorker = { type: 'health', pool, backend, healthy, reason };
    for (const worker of this.workers) worker.send(message);
  }

  async setDraining(pool: string, backend: string, draining: boolean): Promise<boolean> {
    const replies = await this.broadcast({ type: 'draining', pool, backend, draining });
    return replies.some((reply) => reply.value === true);
  }

  /** Purges every worker's response cache; the entries dropped, summed. */
  async purgeCache(target: { url?: string; prefix?: string }): Promise<number> {
    const replies = await this.broadcast({ type: 'purge', ...target });
    return replies.reduce((sum, reply) => sum + (reply.value as number), 0);
  }

  /** Every worker answers `set` (and nothing else) once this resolves. */
  async setAcmeChallenges(set: ChallengeSet): Promise<void> {
    await this.broadcast({ type: 'acme_challenges', set });
  }

  addresses(): Record<string, { host: string; port: number }> {
    return this.listenerAddresses;
  }

  dnsAddresses(): BoundAddress[] {
    return (this.snapshot?.dnsListen ?? []).map(({ transport, host, port }) => ({ transport, host, port }));
  }

  async status(): Promise<unknown> {
    const replies = await this.broadcast({ type: 'status' });
    return replies.map((reply) => reply.value);
  }

  async pools(): Promise<PoolStatus[][]> {
    const replies = await this.broadcast({ type: 'status' });
    return replies.map((reply) => (reply.value as { pools?: PoolStatus[] }).pools ?? []);
  }

  async metrics(): Promise<TrafficMetrics[]> {
    const replies = await this.broadcast({ type: 'metrics' });
    return replies.map((reply) => reply.value as TrafficMetrics);
  }

  /** Each worker's recent requests that pass `query` (one list per worker). */
  async requests(query: RecentQuery): Promise<RecentRequest[][]> {
    const replies = await this.broadcast({ type: 'requests', query });
    return replies.map((reply) => reply.value as RecentRequest[]);
  }

  /**
   * The start of shutdown: from here on a worker that exits is not replaced. Resolves when every worker has
   * drained or exited — one that got the process group's SIGTERM drains by itself and may be gone already.
   */
  async drain(deadline: number): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.workers].map((worker) => this.ask(worker, { type: 'drain', deadline })));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.process.exitCode !== null || worker.process.signalCode !== null) return resolve();
            const timer = setTimeout(() => worker.process.kill('SIGKILL'), 5_000);
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            worker.process.kill('SIGTERM');
          }),
      ),
    );
    this.workers.clear();
  }

  private applyRequest(loaded: LoadedConfig, ports: Record<string, number>, dnsListen: DnsConfig['listen'] | undefined): Request {
    return { type: 'apply', snapshot: snapshotOf(loaded, ports, dnsListen), ticketSeed: this.options.ticketSeed, traceToken: this.options.traceToken };
  }

  private async fork(count: number): Promise<void> {
    if (this.entry === undefined) {
      // Decided once, at the first fork (start-up): replacements run the same code as their siblings.
      const entry = workerEntry();
      if (entry.fallback) this.options.logger.info({ entry: entry.file, reason: entry.fallback }, 'workers run the TypeScript sources');
      this.entry = entry.file;
      // 'advanced' (structured clone): the config snapshot arrives as the object it was, Infinity, undefined
      // fields and any Map or Set included, where JSON would change them; class instances become plain data.
      cluster.setupPrimary({ exec: this.entry, execArgv: [...this.options.runtime.execArgv, ...inheritedExecArgv()], serialization: 'advanced', silent: false });
    }
    await Promise.all(Array.from({ length: count }, () => this.forkOne()));
  }

  private forkOne(): Promise<Worker> {
    // SWITCHYARD_WORKERS: how many siblings share the instance (rate_limit's local store: a lone worker keeps its buckets itself)
    const worker = cluster.fork({ ...this.options.runtime.env, SWITCHYARD_WORKERS: String(this.options.count) });
    this.workers.add(worker);
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'rate_lease') {
        if (worker.isConnected()) worker.send(this.rateLeases.answer(message));
        return;
      }
      if (message.type !== 'reply') return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      clearTimeout(waiter.timer);
      waiter.resolve(message);
    });
    worker.once('exit', (code, signal) => {
      this.workers.delete(worker);
      // Nothing more will come from it: settle what it was asked, instead of waiting for the reply timeout.
      for (const [id, waiter] of this.pending) {
        if (waiter.worker !== worker) continue;
        this.pending.delete(id);
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`worker ${worker.process.pid}: exited (${signal ?? code}) before replying`));
      }
      if (this.stopping) return;
      this.options.logger.error({ worker: worker.process.pid, code, signal }, 'worker exited; starting a new one');
      this.replace().catch((err) => this.options.logger.error({ error: messageOf(err) }, 'worker replacement failed'));
    });
    return new Promise((resolve, reject) => {
      worker.once('online', () => resolve(worker));
      worker.once('error', reject);
    });
  }

  private async replace(): Promise<void> {
    const worker = await this.forkOne();
    if (this.snapshot) {
      const { loaded, ports, dnsListen } = this.snapshot;
      await this.ask(worker, this.applyRequest(loaded, ports, dnsListen));
    }
    for (const message of this.options.replay()) worker.send(message);
  }

  private ask(worker: Worker, request: Request): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!worker.isConnected()) return reject(new Error(`worker ${worker.process.pid}: gone, cannot ${request.type}`));
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${worker.process.pid}: no reply to ${request.type} within ${replyTimeoutMs}ms`));
      }, replyTimeoutMs);
      this.pending.set(id, { worker, resolve, reject, timer });
      worker.send({ ...request, id } as ToWorker);
    });
  }

  /** Sends to every worker; rejects with the first worker's error when any reports failure. */
  private async broadcast(request: Request): Promise<WorkerReply[]> {
    const replies = await Promise.all([...this.workers].map((worker) => this.ask(worker, request)));
    const failed = replies.find((reply) => !reply.ok);
    if (failed) throw new Error(failed.error ?? `worker failed to ${request.type}`);
    return replies;
  }
}
