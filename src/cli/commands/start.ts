// switchyard start -c FILE: run the edge in the foreground until SIGTERM/SIGINT; SIGHUP reloads.
import { ConfigError, messageOf } from '../../core/index.ts';
import { UsageError, configFileArg, parseCommandArgs, type Command, type OptionSpec } from '../command.ts';
import { runEdge } from '../../supervisor/index.ts';

const options: readonly OptionSpec[] = [
  { name: 'config', short: 'c', value: 'FILE', description: 'the config file to run (or give FILE as the argument)' },
  { name: 'workers', short: 'w', value: 'N', default: 'workers from the config', description: 'traffic processes, overriding the config\'s workers; 0 runs the traffic plane inside the primary' },
];

export function parseStartArgs(args: string[]): { configFile: string; workers?: number } {
  const parsed = parseCommandArgs(args, options);
  const configFile = configFileArg(parsed);
  const workersText = parsed.string('workers');
  let workers: number | undefined;
  if (workersText !== undefined) {
    workers = Number(workersText);
    if (!Number.isInteger(workers) || workers < 0) throw new UsageError('--workers expects a whole number (0: no worker processes)');
  }
  return { configFile, workers };
}

export const command: Command = {
  summary: 'run the edge from a config file (SIGHUP reloads, SIGTERM drains and stops)',
  synopsis: '-c FILE [-w N]',
  description: [
    'Runs the edge in the foreground: the primary process (health checks, admin API, DNS) and the traffic processes that serve the listeners. Logs go to stdout as JSON lines; the access log goes where log.access_log says.',
    'SIGHUP reloads the config file (build, then swap; a config that does not load leaves the running one in place). SIGTERM or SIGINT stops accepting, lets in-flight requests finish for up to shutdown_timeout, then exits.',
    'Exit status: 0 after a clean stop, 1 when the config is refused or the edge cannot start, 2 for wrong arguments.',
  ],
  arguments: [{ name: 'FILE', description: 'the config file, as with -c' }],
  options,
  examples: ['switchyard start -c switchyard.yaml', 'switchyard start -c switchyard.yaml --workers 4', 'switchyard start -c switchyard.yaml -w 0'],
  async run(args, io) {
    const parsed = parseStartArgs(args);
    try {
      return await runEdge(parsed);
    } catch (err) {
      if (err instanceof ConfigError) {
        io.stderr.write(`${err.message}\n`);
        return 1;
      }
      io.stderr.write(`switchyard start: ${messageOf(err)}\n`);
      return 1;
    }
  },
};
