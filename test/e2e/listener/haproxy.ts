// HAProxy in TCP mode in front of Switchyard listeners, sending PROXY protocol headers (send-proxy,
// send-proxy-v2): the L4 load balancer the listener layer's accept_proxy_protocol is for.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lastFreePort, retryOnAddressInUse } from '../../support/ports.ts';
import { startDaemon } from '../../support/daemon.ts';

export interface HaproxyFrontend {
  /** The Switchyard port this frontend forwards to. */
  backendPort: number;
  send: 'send-proxy' | 'send-proxy-v2';
}

export interface RunningHaproxy {
  /** Per frontend, in order: the port clients connect to (on 127.0.0.1). */
  ports: number[];
  stop(): Promise<void>;
}

/** One try on freshly picked ports; rejects with haproxy's own words when it cannot bind them. */
async function tryStart(dir: string, frontends: readonly HaproxyFrontend[]): Promise<RunningHaproxy> {
  const ports: number[] = [];
  for (const _ of frontends) ports.push(await lastFreePort());
  const config = [
    'global',
    '  maxconn 256',
    // without SO_REUSEPORT, a port some other process holds is refused instead of shared
    '  noreuseport',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 10s',
    '  timeout server 10s',
    ...frontends.flatMap((frontend, index) => [
      `frontend f${index}`,
      `  bind 127.0.0.1:${ports[index]}`,
      `  default_backend b${index}`,
      `backend b${index}`,
      `  server s${index} 127.0.0.1:${frontend.backendPort} ${frontend.send}`,
    ]),
    '',
  ].join('\n');
  const file = path.join(dir, 'haproxy.cfg');
  await writeFile(file, config);
  const { stop } = await startDaemon('haproxy', 'haproxy', ['-db', '-f', file], ports, 10_000);
  return { ports, stop };
}

export async function startHaproxy(frontends: readonly HaproxyFrontend[]): Promise<RunningHaproxy> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-haproxy-'));
  try {
    const running = await retryOnAddressInUse(() => tryStart(dir, frontends));
    return {
      ports: running.ports,
      stop: async () => {
        await running.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
