// Debian's squid on loopback, as the reference forward proxy the forward-proxy tests hold Switchyard's
// answers against: its own config in a temp dir, no cache, no DNS beyond IP literals, three ports
// mirroring the Switchyard listeners of the test (open, closed to this client, basic auth).
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lastFreePort, retryOnAddressInUse } from '../../support/ports.ts';

export interface SquidOptions {
  /** The only port CONNECT may reach. */
  connectPort: number;
  /** The only destination host allowed (dstdomain). */
  host: string;
  /** htpasswd file (crypt/MD5 lines) for the auth port. */
  htpasswd: string;
}

export interface RunningSquid {
  open: number;
  closed: number;
  auth: number;
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function tryStart(dir: string, options: SquidOptions): Promise<RunningSquid> {
  const [open, closed, auth] = [await lastFreePort(), await lastFreePort(), await lastFreePort()];
  const config = [
    `http_port 127.0.0.1:${open} name=open`,
    `http_port 127.0.0.1:${closed} name=closed`,
    `http_port 127.0.0.1:${auth} name=auth`,
    `pid_filename ${dir}/squid.pid`,
    `access_log stdio:${dir}/access.log`,
    `cache_log ${dir}/cache.log`,
    `coredump_dir ${dir}`,
    'cache deny all',
    'cache_mem 0 MB',
    'shutdown_lifetime 0 seconds',
    'dns_nameservers 127.0.0.1',
    'forwarded_for on',
    `auth_param basic program /usr/lib/squid/basic_ncsa_auth ${options.htpasswd}`,
    'auth_param basic realm switchyard',
    'acl port_open myportname open',
    'acl port_closed myportname closed',
    'acl port_auth myportname auth',
    'acl CONNECT method CONNECT',
    `acl tls_port port ${options.connectPort}`,
    'acl high_ports port 1024-65535',
    `acl allowed_host dstdomain ${options.host}`,
    'acl users proxy_auth REQUIRED',
    'http_access deny port_closed',
    'http_access deny CONNECT !tls_port',
    'http_access deny !high_ports',
    'http_access deny !allowed_host',
    'http_access deny port_auth !users',
    'http_access allow localhost',
    'http_access deny all',
    '',
  ].join('\n');
  const file = path.join(dir, 'squid.conf');
  await writeFile(file, config);
  const child = spawn('/usr/sbin/squid', ['-N', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  // squid says nothing on stdout when ready: connect until every port accepts (bounded), or it exits
  const deadline = Date.now() + 15_000;
  for (const port of [open, closed, auth]) {
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`squid did not start: ${output.trim()}`);
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 50));
    }
  }
  return { open, closed, auth, stop };
}

export async function startSquid(options: SquidOptions): Promise<RunningSquid> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-squid-'));
  // squid started as root runs as its cache_effective_user (proxy): it must write its logs here
  await chmod(dir, 0o777);
  try {
    const running = await retryOnAddressInUse(() => tryStart(dir, options));
    return {
      ...running,
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
