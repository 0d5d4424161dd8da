// switchyard check FILE: validate a config and explain what it would run, without starting anything. It
// validates through loadConfigFile, as start and reload do, so it accepts exactly what start would run.
import { loadConfigFile, type Config } from '../../config/index.ts';
import { ConfigError } from '../../core/index.ts';
import { buildBuiltins, builtinSettings } from '../../l7/index.ts';
import { configFileArg, parseCommandArgs, type Command, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [
  { name: 'config', short: 'c', value: 'FILE', description: 'the config file to check (or give FILE as the argument)' },
  { name: 'quiet', short: 'q', description: 'print nothing when the config is valid: only the exit status tells' },
];

function forwardSummary(listener: Config['listeners'][number]): string {
  const allow = listener.allow;
  const ports = (ranges: readonly (readonly [number, number])[] | undefined, fallback: string): string =>
    ranges === undefined ? fallback : ranges.map(([low, high]) => (low === 1 && high === 65535 ? '*' : low === high ? `${low}` : `${low}-${high}`)).join(',');
  const clients = allow?.clients === undefined ? 'loopback clients only' : `${allow.clients.length} client range(s)`;
  const destinations = allow?.destinations !== undefined ? `${allow.destinations.length} destination range(s)` : allow?.private ? 'private destinations allowed' : 'public destinations only';
  return `, ${clients}, hosts ${(allow?.hosts ?? ['*']).join(',')}, ports ${ports(allow?.ports, '80')}, CONNECT ports ${ports(allow?.connect_ports, '443')}, ${destinations}${listener.proxy_auth ? ', proxy_auth' : ''}${listener.anonymous ? ', anonymous' : ''}`;
}

function summarize(config: Config, dnsLines: readonly string[]): string[] {
  const lines: string[] = [];
  for (const [name, pool] of Object.entries(config.pools)) {
    const health = pool.health ? `${pool.health.type} health every ${pool.health.interval}ms` : 'no active health checks';
    lines.push(`pool ${name}: ${pool.balance}, ${pool.backends.length} backend(s), ${pool.protocol}, ${health}`);
  }
  for (const listener of config.listeners) {
    const where = `${listener.listen.host}:${listener.listen.port}`;
    const routes = listener.routes ? `, ${listener.routes.length} route(s)` : listener.pool ? ` → pool ${listener.pool}` : listener.protocol === 'forward_proxy' ? forwardSummary(listener) : '';
    lines.push(`listener ${listener.name}: ${listener.protocol} on ${where}${routes}`);
    const acme = listener.tls?.acme;
    if (acme) lines.push(`  tls.acme: ${acme.hosts.join(', ')} from ${acme.directory} (${acme.challenges.join(', ')}${acme.redis ? ', shared through redis' : ''})`);
    const defaults = listener.middleware ?? [];
    // the edge's own filters (forwarded headers, request id, …), from the listener's keys, ahead of every route's
    if (listener.routes !== undefined && listener.routes.some((route) => route.pool !== undefined)) {
      const builtins = buildBuiltins(builtinSettings(listener, false)).names;
      if (builtins.length > 0) lines.push(`  built-in filters: ${builtins.join(' → ')} (before each proxied route's middleware)`);
    }
    listener.routes?.forEach((route, index) => {
      // the filters each proxied route runs, in order: the listener's, then its own
      const chain = route.pool === undefined ? [] : [...defaults, ...(route.middleware ?? [])];
      if (chain.length > 0) lines.push(`  route ${route.name ?? `#${index}`}: middleware ${chain.map((entry) => entry.name).join(' → ')}`);
    });
  }
  if (config.admin) {
    const { listen, tls, allow_remote: remote } = config.admin;
    lines.push(`admin: ${tls ? 'https' : 'http'} on ${listen.host}:${listen.port}${remote ? ' (remote allowed)' : ''}, token in ${config.admin.token_file}`);
  }
  lines.push(...dnsLines);
  return lines;
}

export const command: Command = {
  summary: 'validate a config file and summarise it',
  synopsis: '[-c] FILE [-q]',
  description: [
    'Loads the config exactly as start would (schema, cross-references, certificate and key files, zone files, root hints) and prints a summary of the pools, listeners and DNS it would run, without opening a socket. A config that check accepts is one start accepts, and the other way round.',
    'Errors are printed one per line as file:line:col: field: message.',
    'Exit status: 0 when the config is valid, 1 when it is refused, 2 for wrong arguments.',
  ],
  arguments: [{ name: 'FILE', description: 'the config file, as with -c' }],
  options,
  examples: ['switchyard check switchyard.yaml', 'switchyard check -q -c switchyard.yaml && switchyard reload -c switchyard.yaml'],
  async run(args, io) {
    const parsed = parseCommandArgs(args, options);
    const quiet = parsed.flag('quiet');
    const file = configFileArg(parsed);
    try {
      const loaded = await loadConfigFile(file);
      // Zone files and root hints are separate files: read them too, so check finds their errors now.
      let dnsLines: string[] = [];
      if (loaded.config.dns) {
        const { checkDnsConfig } = await import('../../dns/index.ts');
        dnsLines = await checkDnsConfig(loaded.config.dns, loaded.baseDir);
      }
      // forward proxies: the password files start reads, and the warnings start logs
      let warnings: string[] = [];
      if (loaded.config.listeners.some((listener) => listener.protocol === 'forward_proxy')) {
        const forward = await import('../../forward/index.ts');
        await forward.checkForwardProxyFiles(loaded.config, loaded.baseDir);
        warnings = forward.forwardProxyWarnings(loaded.config);
      }
      if (!quiet) io.stdout.write(`${file}: ok\n${summarize(loaded.config, dnsLines).map((line) => `  ${line}\n`).join('')}`);
      for (const warning of warnings) io.stderr.write(`${file}: ${warning}\n`);
      return 0;
    } catch (err) {
      if (err instanceof ConfigError) {
        io.stderr.write(`${err.message}\n`);
        return 1;
      }
      throw err;
    }
  },
};
