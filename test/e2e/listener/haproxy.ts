// HAProxy in TCP mode in front of Switchyard listeners, sending PROXY protocol headers (send-proxy,
// send-proxy-v2): the L4 load balancer the listener layer's accept_proxy_protocol is for.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lastFreePort, retryOnAddressInUse } from '../../support/ports.ts';

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

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
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
  const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  // haproxy says nothing when it is ready: connect until it accepts on every port (bounded), or it exits
  const deadline = Date.now() + 10_000;
  for (const port of ports) {
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`haproxy did not start: ${output.trim()}`);
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 50));
    }
  }
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
