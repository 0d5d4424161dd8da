// switchyard check FILE: validate a config and explain what it would run, without starting anything. It
// validates through loadConfigFile, as start and reload do, so it accepts exactly what start would run.
import { loadConfigFile, type Config } from '../../config/index.ts';
import { ConfigError } from '../../core/index.ts';
import { configFileArg, parseCommandArgs, type Command, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [
  { name: 'config', short: 'c', value: 'FILE', description: 'the config file to check (or give FILE as the argument)' },
  { name: 'quiet', short: 'q', description: 'print nothing when the config is valid: only the exit status tells' },
];

function summarize(config: Config, dnsLines: readonly string[]): string[] {
  const lines: string[] = [];
  for (const [name, pool] of Object.entries(config.pools)) {
    const health = pool.health ? `${pool.health.type} health every ${pool.health.interval}ms` : 'no active health checks';
    lines.push(`pool ${name}: ${pool.balance}, ${pool.backends.length} backend(s), ${pool.protocol}, ${health}`);
  }
  for (const listener of config.listeners) {
    const where = `${listener.listen.host}:${listener.listen.port}`;
    const routes = listener.routes ? `, ${listener.routes.length} route(s)` : listener.pool ? ` → pool ${listener.pool}` : '';
    lines.push(`listener ${listener.name}: ${listener.protocol} on ${where}${routes}`);
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
      if (!quiet) io.stdout.write(`${file}: ok\n${summarize(loaded.config, dnsLines).map((line) => `  ${line}\n`).join('')}`);
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
