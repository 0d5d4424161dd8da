// switchyard purge URL: drops the `cache` filter's entries for URL (every route and variant), or with
// --prefix every URL under it, in every worker of the running edge — through its admin API
// (POST /api/cache/purge). The edge is found as `switchyard reload` finds it: <data_dir>/switchyard.run.json.
import path from 'node:path';
import { loadConfigFile } from '../../config/index.ts';
import { ConfigError } from '../../core/index.ts';
import { postAdmin, readAdminToken } from '../../admin/index.ts';
import { readRunFile } from '../../supervisor/index.ts';
import { parseCommandArgs, UsageError, type Command, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [
  { name: 'config', short: 'c', value: 'FILE', default: 'switchyard.yaml', description: "the running edge's config file (its data_dir locates the edge)" },
  { name: 'prefix', description: 'purge every URL that starts with URL' },
  { name: 'data-dir', value: 'DIR', default: "FILE's data_dir", description: "the running edge's data_dir, where its switchyard.run.json is" },
];

export const command: Command = {
  summary: 'drop response-cache entries of the running edge by URL or prefix',
  synopsis: '[-c FILE] [--prefix] URL',
  description: [
    "Drops the `cache` filter's stored responses for URL — every route and Vary variant of it — in every worker of the running edge; with --prefix, every stored URL that starts with URL. Scheme and host are compared lower-case, the path and query as given.",
    'Needs the admin API (admin: in the config): the edge is found through <data_dir>/switchyard.run.json as switchyard reload finds it.',
    'Exit status: 0 when the edge purged (the count is printed, 0 included), 1 when no running edge or admin API is found, 2 for wrong arguments.',
  ],
  arguments: [{ name: 'URL', description: 'an absolute http or https URL, as clients ask for it' }],
  options,
  examples: ['switchyard purge https://example.com/assets/app.css', 'switchyard purge --prefix https://example.com/assets/', 'switchyard purge -c /etc/switchyard/switchyard.yaml --prefix http://api.example.com/v1/'],
  async run(args, io) {
    const parsed = parseCommandArgs(args, options);
    if (parsed.positionals.length !== 1) throw new UsageError('expected one URL');
    const target = parsed.positionals[0];
    if (!URL.canParse(target) || !/^https?:$/.test(new URL(target).protocol)) throw new UsageError(`expected an absolute http or https URL, got ${JSON.stringify(target)}`);
    let dataDir = parsed.string('data-dir');
    if (dataDir === undefined) {
      try {
        const loaded = await loadConfigFile(parsed.string('config') ?? 'switchyard.yaml');
        dataDir = path.resolve(loaded.baseDir, loaded.config.data_dir);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        io.stderr.write(`${err.message}\npurge: give the running edge's config (-c FILE) or its --data-dir\n`);
        return 1;
      }
    }
    const found = await readRunFile(path.resolve(dataDir));
    if (!found.ok) {
      io.stderr.write(`${found.error}\npurge: nothing purged\n`);
      return 1;
    }
    const running = found.record;
    if (!running.admin || !running.tokenFile) {
      io.stderr.write(`purge: the running edge (pid ${running.pid}) has no admin API; configure admin: to purge its cache\n`);
      return 1;
    }
    const token = await readAdminToken(running.tokenFile);
    let answer: { status: number; body: string };
    try {
      answer = await postAdmin(running.admin, '/api/cache/purge', token, running.adminCert, 30_000, parsed.flag('prefix') ? { prefix: target } : { url: target });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause;
      io.stderr.write(`admin API at ${running.admin.host}:${running.admin.port} not reachable (${cause?.message ?? (err as Error).message}): is switchyard running?\n`);
      return 1;
    }
    const result = JSON.parse(answer.body) as { purged?: number; error?: string };
    if (answer.status !== 200) {
      io.stderr.write(`purge refused by the running edge: ${result.error ?? answer.body}\n`);
      return 1;
    }
    io.stdout.write(`purged ${result.purged} cached response${result.purged === 1 ? '' : 's'}\n`);
    return 0;
  },
};
