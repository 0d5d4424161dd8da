// Address checks that span sections: every socket the edge binds (listeners, the admin API, DNS) must be
// its own, and the admin API stays on loopback unless asked for remote use — and then speaks HTTPS.
// Runs at load (check, start, reload); binding itself later only finds addresses other processes hold.
import ipaddr from 'ipaddr.js';
import type { Config } from './schema/index.ts';
import type { ConfigIssue } from './cross-check.ts';

interface Bound {
  transport: 'tcp' | 'udp';
  host: string;
  port: number;
  path: (string | number)[];
  label: string;
}

const wildcard = (host: string): boolean => host === '0.0.0.0' || host === '::' || host === '[::]';

/** Two binds collide when they share transport and port and one host is the other or a wildcard. */
function collide(a: Bound, b: Bound): boolean {
  if (a.transport !== b.transport || a.port !== b.port || a.port === 0) return false;
  return a.host === b.host || wildcard(a.host) || wildcard(b.host);
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  try {
    const address = ipaddr.process(host);
    return address.range() === 'loopback';
  } catch {
    return false;
  }
}

function bindsOf(config: Config): Bound[] {
  const binds: Bound[] = config.listeners.map((listener, index) => ({
    transport: listener.protocol === 'udp' ? 'udp' : 'tcp',
    host: listener.listen.host,
    port: listener.listen.port,
    path: ['listeners', index, 'listen'],
    label: `listeners[${index}] (${listener.name})`,
  }));
  if (config.admin) binds.push({ transport: 'tcp', ...config.admin.listen, path: ['admin', 'listen'], label: 'the admin API (admin.listen)' });
  config.dns?.listen.forEach((listen, index) => binds.push({ transport: listen.transport === 'udp' ? 'udp' : 'tcp', host: listen.host, port: listen.port, path: ['dns', 'listen', index], label: `dns.listen[${index}]` }));
  return binds;
}

export function addressIssues(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const binds = bindsOf(config);
  binds.forEach((bind, index) => {
    const earlier = binds.slice(0, index).find((other) => collide(other, bind));
    if (earlier) {
      issues.push({ path: bind.path, message: `expected a free address, got ${bind.transport} ${bind.host}:${bind.port}, already bound by ${earlier.label}` });
    }
  });

  const admin = config.admin;
  if (admin) {
    const where = `${admin.listen.host}:${admin.listen.port}`;
    const loopback = isLoopback(admin.listen.host);
    if (!loopback && !admin.allow_remote) {
      issues.push({ path: ['admin', 'listen'], message: `expected a loopback address (127.0.0.1, ::1) unless allow_remote: true, got ${where} (the admin API can drain backends and reload)` });
    }
    if (admin.allow_remote && loopback) {
      issues.push({ path: ['admin', 'allow_remote'], message: `expected allow_remote only with a non-loopback listen address, got ${where}` });
    }
    if (admin.allow_remote && !loopback && !admin.tls) {
      issues.push({ path: ['admin', 'tls'], message: `expected tls (cert and key) for an admin API reachable from other hosts, got none (the token would cross the network in clear)` });
    }
  }
  return issues;
}
