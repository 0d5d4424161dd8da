// HAProxy in TCP mode in front of Switchyard listeners, sending PROXY protocol headers (send-proxy,
// send-proxy-v2): the L4 load balancer the listener layer's accept_proxy_protocol is for.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

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

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once a TCP connect to the port succeeds; rejects when the process exits first or after 10 s. */
async function whenAccepting(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${output()}`);
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (connected) return;
    // haproxy says nothing when it is ready: try again shortly (bounded by the deadline)
    await new Promise<void>((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`haproxy did not accept on ${port} within 10s: ${output()}`);
}

export async function startHaproxy(frontends: readonly HaproxyFrontend[]): Promise<RunningHaproxy> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-haproxy-'));
  // the ports are chosen free, then bound by haproxy: another process may take one in between, so retry
  for (let attempt = 1; ; attempt++) {
    const ports = await Promise.all(frontends.map(() => freePort()));
    const config = [
      'global',
      '  maxconn 256',
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
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    };
    try {
      for (const port of ports) await whenAccepting(port, child, () => output);
      return {
        ports,
        stop: async () => {
          await stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      await stop();
      if (attempt >= 3 || !/Address already in use|cannot bind/i.test(output)) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}
