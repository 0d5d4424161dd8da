// switchyard check FILE: validate a config and explain what it would run, without starting anything. It
// validates through loadConfigFile, as start and reload do, so it accepts exactly what start would run.
import { loadConfigFile, type Config } from '../../config/index.ts';
import { ConfigError } from '../../core/index.ts';
import { UsageError, type Command } from '../command.ts';

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
  usage: 'usage: switchyard check [-c] FILE [--quiet]',
  async run(args, io) {
    const quiet = args.includes('--quiet') || args.includes('-q');
    const files = args.filter((arg) => !arg.startsWith('-'));
    if (files.length !== 1) throw new UsageError('expected one config file');
    try {
      const loaded = await loadConfigFile(files[0]);
      // Zone files and root hints are separate files: read them too, so check finds their errors now.
      let dnsLines: string[] = [];
      if (loaded.config.dns) {
        const { checkDnsConfig } = await import('../../dns/index.ts');
        dnsLines = await checkDnsConfig(loaded.config.dns, loaded.baseDir);
      }
      if (!quiet) io.stdout.write(`${files[0]}: ok\n${summarize(loaded.config, dnsLines).map((line) => `  ${line}\n`).join('')}`);
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
