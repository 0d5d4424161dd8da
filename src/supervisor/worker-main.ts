// Entry of a worker process: one traffic plane (its own pools and listeners), driven by the primary.
import { parseConfigText, type LoadedConfig } from '../config/index.ts';
import { messageOf, systemClock } from '../core/index.ts';
import type { FromWorker, ToWorker } from './ipc.ts';
import { TrafficPlane } from './traffic-plane.ts';
import { listenerFactories } from './listeners.ts';
import { createLoggers, type Loggers } from './logging.ts';
import { Metrics } from './metrics.ts';
import path from 'node:path';

const metrics = new Metrics();
let plane: TrafficPlane | undefined;
let loggers: Loggers | undefined;

const reply = (message: FromWorker): void => {
  process.send?.(message);
};

function withPorts(loaded: LoadedConfig, ports: Record<string, number>): LoadedConfig {
  const listeners = loaded.config.listeners.map((listener) => ({ ...listener, listen: { ...listener.listen, port: ports[listener.name] ?? listener.listen.port } }));
  return { ...loaded, config: { ...loaded.config, listeners } };
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'apply': {
      const loaded = withPorts(parseConfigText(message.text, message.file, message.baseDir), message.ports);
      loggers ??= createLoggers(loaded.config, loaded.baseDir);
      plane ??= new TrafficPlane({
        ...loggers,
        clock: systemClock,
        dataDir: path.resolve(loaded.baseDir, loaded.config.data_dir),
        factories: listenerFactories(),
        ticketSeed: Buffer.from(message.ticketSeed, 'hex'),
        traceToken: message.traceToken,
        onRequestDone: (record) => metrics.requestDone(record),
      });
      await plane.apply(loaded);
      return reply({ type: 'reply', id: message.id, ok: true });
    }
    case 'health':
      plane?.setHealth(message.pool, message.backend, message.healthy, message.reason);
      return;
    case 'draining':
      return reply({ type: 'reply', id: message.id, ok: true, value: plane?.setDraining(message.pool, message.backend, message.draining) ?? false });
    case 'status':
      return reply({ type: 'reply', id: message.id, ok: true, value: { pid: process.pid, ...plane?.status() } });
    case 'metrics': {
      await metrics.render(plane?.registry());
      return reply({ type: 'reply', id: message.id, ok: true, value: await metrics.registry.getMetricsAsJSON() });
    }
    case 'drain':
      await plane?.drain(message.deadline);
      return reply({ type: 'reply', id: message.id, ok: true });
  }
}

process.on('message', (message: ToWorker) => {
  handle(message).catch((err) => {
    if ('id' in message) reply({ type: 'reply', id: message.id, ok: false, error: messageOf(err) });
    else loggers?.logger.error({ error: messageOf(err) }, 'worker: message failed');
  });
});

// The primary decides when to stop; SIGTERM from it means: finish what is in flight quickly, then exit.
process.on('SIGTERM', () => {
  void (plane?.stop() ?? Promise.resolve()).finally(() => {
    loggers?.logger.flush();
    process.exit(0);
  });
});
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
