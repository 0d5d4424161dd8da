// switchyard reload -c FILE: validate FILE here, then make the running edge load it — through the admin API
// when the edge has one (the edge loads FILE, which from then on is its config, and its verdict sets the exit
// code), else by SIGHUP, which re-reads the edge's own config file and so is refused for any other FILE. The
// running edge is found through <data_dir>/switchyard.run.json (FILE's data_dir, or --data-dir), and is
// trusted only while its pid still runs the recorded switchyard command line (a stale record names a pid
// that may belong to anything by now).
import path from 'node:path';
import { loadConfigFile } from '../../config/index.ts';
import { ConfigError } from '../../core/index.ts';
import { readAdminToken } from '../../admin/index.ts';
import { readRunFile } from '../../supervisor/index.ts';
import { UsageError, type Command } from '../command.ts';

function parseReloadArgs(args: string[]): { file: string; dataDir?: string } {
  let file: string | undefined;
  let dataDir: string | undefined;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    if (arg === '-c' || arg === '--config') file = args[++index];
    else if (arg === '--data-dir') dataDir = args[++index];
    else if (!arg.startsWith('-') && file === undefined) file = arg;
    else throw new UsageError(`unknown option ${arg}`);
  }
  if (!file) throw new UsageError('expected one config file');
  return { file, dataDir };
}

export const command: Command = {
  summary: 'validate a config and make the running edge load it (zero downtime)',
  usage: 'usage: switchyard reload -c FILE [--data-dir DIR]   (DIR: the running edge\'s data_dir, when FILE\'s is another)',
  async run(args, io) {
    const options = parseReloadArgs(args);
    let loaded;
    try {
      loaded = await loadConfigFile(options.file);
    } catch (err) {
      if (err instanceof ConfigError) {
        io.stderr.write(`${err.message}\nreload refused: the running config stays\n`);
        return 1;
      }
      throw err;
    }
    const dataDir = options.dataDir ? path.resolve(options.dataDir) : path.resolve(loaded.baseDir, loaded.config.data_dir);
    const found = await readRunFile(dataDir);
    if (!found.ok) {
      io.stderr.write(`${found.error}\nreload: nothing signalled\n`);
      return 1;
    }
    const running = found.record;
    if (running.admin && running.tokenFile) {
      const token = await readAdminToken(running.tokenFile);
      const { host, port } = running.admin;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/api/reload`;
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ config: loaded.file }),
          signal: AbortSignal.timeout(60_000),
        });
      } catch (err) {
        const cause = (err as Error & { cause?: Error }).cause;
        io.stderr.write(`admin API at ${host}:${port} not reachable (${cause?.message ?? (err as Error).message}): is switchyard running?\n`);
        return 1;
      }
      const result = (await response.json()) as { ok: boolean; error?: string; config?: string };
      if (!result.ok) {
        io.stderr.write(`${result.error}\nreload refused by the running edge: the running config stays\n`);
        return 1;
      }
      io.stdout.write(`reloaded: the edge (pid ${running.pid}) runs ${result.config ?? loaded.file}\n`);
      return 0;
    }
    if (running.config !== loaded.file) {
      io.stderr.write(
        `reload refused: the running edge (pid ${running.pid}) runs ${running.config}, and without an admin API it can only re-read that file (SIGHUP); ` +
          `put the changes there and run switchyard reload -c ${running.config}, or configure admin: to load another file\n`,
      );
      return 1;
    }
    process.kill(running.pid, 'SIGHUP');
    io.stdout.write(`sent SIGHUP to ${running.pid} (no admin API configured: the edge logs whether the reload took)\n`);
    return 0;
  },
};
