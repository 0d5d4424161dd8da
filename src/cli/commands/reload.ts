// switchyard reload -c FILE: validate the config here, then ask the running edge to load it — through the
// admin API when configured (so the edge's own verdict comes back and sets the exit code), else by SIGHUP.
// The running edge's pid and admin address are in <data_dir>/switchyard.run.json.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfigFile } from '../../config/index.ts';
import { ConfigError } from '../../core/index.ts';
import { postAdmin, readAdminToken, type AdminAddress } from '../../admin/index.ts';
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
    const runFile = path.join(dataDir, 'switchyard.run.json');
    let running: { pid: number; admin?: AdminAddress };
    try {
      running = JSON.parse(await readFile(runFile, 'utf8'));
    } catch {
      io.stderr.write(`no ${runFile}: is switchyard running with this config?\n`);
      return 1;
    }
    if (config.admin && running.admin) {
      const token = await readAdminToken(path.resolve(dataDir, config.admin.token_file));
      const { host, port } = running.admin;
      const cert = config.admin.tls && path.resolve(baseDir, config.admin.tls.cert);
      let response: { body: string };
      try {
        response = await postAdmin(running.admin, '/api/reload', token, cert, 60_000);
      } catch (err) {
        const cause = (err as Error & { cause?: Error }).cause;
        io.stderr.write(`admin API at ${host}:${port} not reachable (${cause?.message ?? (err as Error).message}): is switchyard running?\n`);
        return 1;
      }
      const result = JSON.parse(response.body) as { ok: boolean; error?: string };
      if (!result.ok) {
        io.stderr.write(`${result.error}\nreload refused by the running edge: the running config stays\n`);
        return 1;
      }
      io.stdout.write('reloaded\n');
      return 0;
    }
    process.kill(running.pid, 'SIGHUP');
    io.stdout.write(`sent SIGHUP to ${running.pid} (no admin API configured: the edge logs whether the reload took)\n`);
    return 0;
  },
};
