// The forward proxy (`protocol: forward_proxy`): public entry. Other components import only this file.
//
//   createForwardProxyListener(config, deps)   a listener (no I/O until start()); start() reads the
//     proxy_auth password file and binds; updateConfig() on reload; drain(deadline); stop()
//   forwardProxyWarnings(config)               what `switchyard check` and start warn about (loopback only)
//   checkForwardProxyFiles(config, baseDir)    reads the password files as start would (for check)
//   hashPassword(user, password)               a password file line (`switchyard passwd`)
//
// Requests: absolute-URI HTTP/1.1 requests are forwarded on kept-alive origin connections; CONNECT opens
// a tunnel. Both pass the allow policy (clients, hosts, ports, connect_ports, destination addresses),
// proxy_auth when configured, and are logged in the access log with a reason (docs/forward-proxy.md).
//
// Middleware: the listener's `middleware` runs the edge's filters (src/l7) on absolute-URI requests
// (filters.ts): request filters after the policy, before an origin connection (a shared cache's hit, a rate
// limit); response filters on the origin's head and body (a cache storing, compression).
import { resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Config, ListenerConfig } from '../config/index.ts';
import { ConfigError } from '../core/index.ts';
import { ForwardProxyListener, type ForwardProxyDeps, type ForwardProxyStatus } from './listener.ts';
import { parsePasswordFile } from './passwords.ts';

export { ForwardProxyListener, type ForwardProxyDeps, type ForwardProxyStatus };
export { hashPassword } from './passwords.ts';
export { isPublicUnicast } from './policy.ts';
export type { ResolverAddress } from './resolve.ts';

export function createForwardProxyListener(listener: ListenerConfig, deps: ForwardProxyDeps): ForwardProxyListener {
  return new ForwardProxyListener(listener, deps);
}

/** Warnings for a config that is valid but probably not what was meant. */
export function forwardProxyWarnings(config: Config): string[] {
  return config.listeners
    .filter((listener) => listener.protocol === 'forward_proxy' && listener.allow?.clients === undefined)
    .map((listener) => `warning: listener ${listener.name}: forward_proxy without allow.clients serves loopback clients only (127.0.0.0/8, ::1); list the client ranges in allow.clients to open it further`);
}

/** Reads and parses every forward_proxy listener's password file, as start() does; throws ConfigError. */
export async function checkForwardProxyFiles(config: Config, baseDir: string): Promise<void> {
  const problems: string[] = [];
  for (const listener of config.listeners) {
    if (listener.protocol !== 'forward_proxy' || !listener.proxy_auth) continue;
    const file = resolve(baseDir, listener.proxy_auth.file);
    try {
      parsePasswordFile(await readFile(file, 'utf8'), file);
    } catch (err) {
      problems.push(...(err instanceof ConfigError ? err.issues : [`${file}: cannot read the proxy_auth password file: ${(err as Error).message}`]));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
