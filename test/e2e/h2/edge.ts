// An https or h2c listener of src/h2 running in the test process: config from inline YAML through the real
// loader, real pools (src/pool), access log lines captured. Real clients (curl, nghttp, h2load, openssl,
// grpc-js) then talk to it over loopback.
import { parseConfigText, type Config } from '../../../src/config/index.ts';
import { silentLogger, systemClock, type Logger } from '../../../src/core/index.ts';
import { buildPools, type PoolRegistry } from '../../../src/pool/index.ts';
import { createH2Listener, type H2Listener } from '../../../src/h2/index.ts';
import { pino } from 'pino';

export interface Edge {
  listener: H2Listener;
  port: number;
  config: Config;
  accessLines: Record<string, unknown>[];
  /** The edge's pools (backend states: health, passive ejection). */
  pools: PoolRegistry;
  close: () => Promise<void>;
}

export async function startEdge(yaml: string, options: { baseDir: string; dataDir: string; logger?: Logger; traceToken?: string }): Promise<Edge> {
  const { config, baseDir } = parseConfigText(yaml, 'edge.yaml', options.baseDir);
  const pools = buildPools(config.pools, { clock: systemClock });
  const accessLines: Record<string, unknown>[] = [];
  // a write may carry several lines (the access log batches them per event-loop turn)
  const accessLog = pino({ level: 'info' }, { write: (text: string) => void accessLines.push(...text.split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line) as Record<string, unknown>)) });
  const listener = createH2Listener(config.listeners[0], {
    pools,
    logger: options.logger ?? silentLogger(),
    accessLog,
    clock: systemClock,
    dataDir: options.dataDir,
    baseDir,
    traceToken: options.traceToken,
  });
  try {
    await listener.start();
  } catch (err) {
    await listener.stop();
    pools.close();
    throw err;
  }
  return {
    listener,
    port: listener.address().port,
    config,
    accessLines,
    pools,
    close: async () => {
      await listener.stop();
      pools.close();
    },
  };
}
