// switchyard reload -c FILE: validate FILE here, then make the running edge load it — through the admin API
// when the edge has one (the edge loads FILE, which from then on is its config, and its verdict sets the exit
// code), else by SIGHUP, which re-reads the edge's own config file and so is refused for any other FILE. The
// running edge is found through <data_dir>/switchyard.run.json (FILE's data_dir, or --data-dir), and is
// trusted only while its pid still runs the recorded switchyard command line (a stale record names a pid
// that may belong to anything by now).
import path from 'node:path';
import { loadConfigFile } from '../../config/index.ts';
import { ConfigError } from '../../core/index.ts';
import { postAdmin, readAdminToken } from '../../admin/index.ts';
import { readRunFile } from '../../supervisor/index.ts';
import { configFileArg, parseCommandArgs, type Command, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [
  { name: 'config', short: 'c', value: 'FILE', description: 'the config file to load (or give FILE as the argument)' },
  { name: 'data-dir', value: 'DIR', default: "FILE's data_dir", description: "the running edge's data_dir, where its switchyard.run.json is, when FILE names another" },
];

export const command: Command = {
  summary: 'validate a config and make the running edge load it (zero downtime)',
  synopsis: '-c FILE [--data-dir DIR]',
  description: [
    'Validates FILE here first (the same checks as switchyard check), then makes the running edge load it. With an admin API the edge loads FILE itself and answers with its verdict; from then on FILE is its config (SIGHUP re-reads it). Without an admin API the edge can only re-read its own config file (SIGHUP), so any other FILE is refused, naming the file the edge runs.',
    'The running edge is found through <data_dir>/switchyard.run.json and trusted only while its pid still runs the recorded switchyard command line: a stale record (an edge killed with SIGKILL) is reported, and nothing is signalled.',
    'Requests that arrive after the reload use the new config; requests in flight finish on the old one.',
    'Exit status: 0 when the edge reloaded (or was signalled), 1 when the config is refused or no running edge is found, 2 for wrong arguments.',
  ],
  arguments: [{ name: 'FILE', description: 'the config file, as with -c' }],
  options,
  examples: ['switchyard reload -c switchyard.yaml', 'switchyard check -q switchyard.yaml && switchyard reload -c switchyard.yaml', 'switchyard reload -c /tmp/candidate.yaml --data-dir /var/lib/switchyard'],
  async run(args, io) {
    const parsed = parseCommandArgs(args, options);
    const file = configFileArg(parsed);
    let loaded;
    try {
      loaded = await loadConfigFile(file);
    } catch (err) {
      if (err instanceof ConfigError) {
        io.stderr.write(`${err.message}\nreload refused: the running config stays\n`);
        return 1;
      }
      throw err;
    }
    const dataDirOption = parsed.string('data-dir');
    const dataDir = dataDirOption ? path.resolve(dataDirOption) : path.resolve(loaded.baseDir, loaded.config.data_dir);
    const found = await readRunFile(dataDir);
    if (!found.ok) {
      io.stderr.write(`${found.error}\nreload: nothing signalled\n`);
      return 1;
    }
    const running = found.record;
    if (running.admin && running.tokenFile) {
      const token = await readAdminToken(running.tokenFile);
      const { host, port } = running.admin;
      let response: { body: string };
      try {
        response = await postAdmin(running.admin, '/api/reload', token, running.adminCert, 60_000, { config: loaded.file });
      } catch (err) {
        const cause = (err as Error & { cause?: Error }).cause;
        io.stderr.write(`admin API at ${host}:${port} not reachable (${cause?.message ?? (err as Error).message}): is switchyard running?\n`);
        return 1;
      }
      const result = JSON.parse(response.body) as { ok: boolean; error?: string; config?: string };
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
