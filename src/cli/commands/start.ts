// switchyard start -c FILE: run the edge in the foreground until SIGTERM/SIGINT; SIGHUP reloads.
import { ConfigError, messageOf } from '../../core/index.ts';
import { UsageError, type Command } from '../command.ts';
import { runEdge } from '../../supervisor/index.ts';

export function parseStartArgs(args: string[]): { configFile: string; workers?: number } {
  let configFile: string | undefined;
  let workers: number | undefined;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    if (arg === '-c' || arg === '--config') configFile = args[++index];
    else if (arg === '-w' || arg === '--workers') {
      workers = Number(args[++index]);
      if (!Number.isInteger(workers) || workers < 0) throw new UsageError('--workers expects a whole number (0: no worker processes)');
    } else if (!arg.startsWith('-') && configFile === undefined) configFile = arg;
    else throw new UsageError(`unknown option ${arg}`);
  }
  if (!configFile) throw new UsageError('expected a config file: switchyard start -c FILE');
  return { configFile, workers };
}

export const command: Command = {
  summary: 'run the edge from a config file (SIGHUP reloads, SIGTERM drains and stops)',
  usage: 'usage: switchyard start -c FILE [--workers N]',
  async run(args, io) {
    const options = parseStartArgs(args);
    try {
      return await runEdge(options);
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
