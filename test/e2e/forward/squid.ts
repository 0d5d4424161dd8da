// Debian's squid on loopback, as the reference forward proxy the forward-proxy tests hold Switchyard's
// answers against: its own config in a temp dir, no cache, no DNS beyond IP literals, three ports
// mirroring the Switchyard listeners of the test (open, closed to this client, basic auth).
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lastFreePort, retryOnAddressInUse } from '../../support/ports.ts';
import { startDaemon } from '../../support/daemon.ts';

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
  const { stop } = await startDaemon('squid', '/usr/sbin/squid', ['-N', '-f', file], [open, closed, auth], 15_000);
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
