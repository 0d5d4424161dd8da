// Entry of a worker process: one traffic plane (its own pools and listeners), driven by the primary. Holds
// the traffic plane only: the config arrives validated (config-snapshot.ts) and metrics leave as plain
// counters (request-counters.ts), so this process never loads yaml, zod or prom-client.
import { messageOf, systemClock } from '../core/index.ts';
import { loadedFromSnapshot } from './config-snapshot.ts';
import type { FromWorker, ToWorker } from './ipc.ts';
import { TrafficPlane } from './traffic-plane.ts';
import { ListenerFactories } from './listeners.ts';
import { createLoggers, type Loggers } from './logging.ts';
import { RequestCounters, trafficMetrics, workerMemory } from './request-counters.ts';
import path from 'node:path';
import { IdleCollector, loopUtilization, MEMORY_REDUCING_GC } from './idle-collector.ts';

// memory back after load (idle-collector.ts); worker-runtime.ts starts workers with --expose-gc
const gc = (globalThis as { gc?: NodeJS.GCFunction }).gc;
const idleCollector = gc === undefined ? undefined : new IdleCollector({ clock: systemClock, collect: () => gc(MEMORY_REDUCING_GC), utilization: loopUtilization() });
idleCollector?.start();

const counters = new RequestCounters();
let plane: TrafficPlane | undefined;
let loggers: Loggers | undefined;
let shutdownTimeout = 10_000;
/** One drain per process: the primary's 'drain' and a SIGTERM may both ask for it. */
let draining: Promise<void> | undefined;

const drain = (deadline: number): Promise<void> => (draining ??= plane?.drain(deadline) ?? Promise.resolve());

const reply = (message: FromWorker): void => {
  process.send?.(message);
};

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'apply': {
      const loaded = loadedFromSnapshot(message.snapshot);
      loggers ??= createLoggers(loaded.config, loaded.baseDir);
      plane ??= new TrafficPlane({
        ...loggers,
        clock: systemClock,
        dataDir: path.resolve(loaded.baseDir, loaded.config.data_dir),
        factories: new ListenerFactories(),
        ticketSeed: Buffer.from(message.ticketSeed, 'hex'),
        traceToken: message.traceToken,
        onRequestDone: (record) => counters.requestDone(record),
      });
      await plane.apply(loaded);
      shutdownTimeout = loaded.config.shutdown_timeout;
      return reply({ type: 'reply', id: message.id, ok: true });
    }
    case 'health':
      plane?.setHealth(message.pool, message.backend, message.healthy, message.reason);
      return;
    case 'draining':
      return reply({ type: 'reply', id: message.id, ok: true, value: plane?.setDraining(message.pool, message.backend, message.draining) ?? false });
    case 'acme_challenges':
      plane?.setAcmeChallenges(message.set);
      return reply({ type: 'reply', id: message.id, ok: true });
    case 'status':
      return reply({ type: 'reply', id: message.id, ok: true, value: { pid: process.pid, memory: workerMemory(), idle_collections: idleCollector?.collections ?? 0, ...plane?.status() } });
    case 'metrics':
      return reply({ type: 'reply', id: message.id, ok: true, value: trafficMetrics(counters, plane) });
    case 'purge':
      return reply({ type: 'reply', id: message.id, ok: true, value: (await plane?.purgeCache({ url: message.url, prefix: message.prefix })) ?? 0 });
    case 'requests':
      return reply({ type: 'reply', id: message.id, ok: true, value: plane?.requests(message.query) ?? [] });
    case 'drain':
      await drain(message.deadline);
      return reply({ type: 'reply', id: message.id, ok: true });
    case 'rate_lease_reply':
      return; // for the rate_limit lease client, which listens on the same channel
  }
}

process.on('message', (message: ToWorker) => {
  handle(message).catch((err) => {
    if ('id' in message && message.type !== 'rate_lease_reply') reply({ type: 'reply', id: message.id, ok: false, error: messageOf(err) });
    else loggers?.logger.error({ error: messageOf(err) }, 'worker: message failed');
  });
});

// SIGTERM comes from the primary once it has drained this worker (nothing left in flight), or from outside
// together with the primary (kill of the process group, systemd's control-group stop): either way finish
// what is in flight within shutdown_timeout, then exit — the same drain the primary's 'drain' asks for, and
// the primary does not wait for a reply from a worker that has exited (worker-pool.ts). SIGINT (Ctrl-C
// reaches the whole group) and SIGHUP are the primary's to handle: it drains the workers by message.
let terminating = false;
process.on('SIGTERM', () => {
  if (terminating) return;
  terminating = true;
  void drain(Date.now() + shutdownTimeout)
    .then(() => plane?.stop())
    .finally(() => {
      loggers?.logger.flush();
      process.exit(0);
    });
});
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
