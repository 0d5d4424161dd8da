// switchyard reload -c FILE: validate the config here, then ask the running edge to load it — through the
// admin API when configured (so the edge's own verdict comes back and sets the exit code), else by SIGHUP
// to the pid in the data directory.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfigFile } from '../../config/index.ts';
import { ConfigError } from '../../core/index.ts';
import { readAdminToken } from '../../admin/index.ts';
import { UsageError, type Command } from '../command.ts';

export const command: Command = {
  summary: 'validate a config and make the running edge load it (zero downtime)',
  usage: 'usage: switchyard reload -c FILE',
  async run(args, io) {
    const files = args.filter((arg) => arg !== '-c' && arg !== '--config');
    if (files.length !== 1) throw new UsageError('expected one config file');
    let loaded;
    try {
      loaded = await loadConfigFile(files[0]);
    } catch (err) {
      if (err instanceof ConfigError) {
        io.stderr.write(`${err.message}\nreload refused: the running config stays\n`);
        return 1;
      }
      throw err;
    }
    const { config, baseDir } = loaded;
    const dataDir = path.resolve(baseDir, config.data_dir);
    if (config.admin) {
      const token = await readAdminToken(path.resolve(dataDir, config.admin.token_file));
      const { host, port } = config.admin.listen;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/api/reload`;
      let response: Response;
      try {
        response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(60_000) });
      } catch (err) {
        io.stderr.write(`admin API at ${host}:${port} not reachable (${(err as Error).cause ? String((err as Error & { cause: Error }).cause.message) : (err as Error).message}): is switchyard running?\n`);
        return 1;
      }
      const result = (await response.json()) as { ok: boolean; error?: string };
      if (!result.ok) {
        io.stderr.write(`${result.error}\nreload refused by the running edge: the running config stays\n`);
        return 1;
      }
      io.stdout.write('reloaded\n');
      return 0;
    }
    const pidFile = path.join(dataDir, 'switchyard.pid');
    let pid: number;
    try {
      pid = Number((await readFile(pidFile, 'utf8')).trim());
    } catch {
      io.stderr.write(`no pid file at ${pidFile}: is switchyard running with this config?\n`);
      return 1;
    }
    process.kill(pid, 'SIGHUP');
    io.stdout.write(`sent SIGHUP to ${pid} (no admin API configured: the edge logs whether the reload took)\n`);
    return 0;
  },
};
