// switchyard explain METHOD URL: what the edge would do with that request — the listener, each route's
// verdict up to the match, the filters, the pool's backends in the policy's order and the one the balancer would pick — without
// sending anything. Asks the running edge (GET /api/explain) when one runs FILE (found through its
// switchyard.run.json) or when --admin names one; else explains from the config alone, health unknown.
import path from 'node:path';
import { getAdmin, readAdminToken, type AdminAddress } from '../../admin/index.ts';
import { loadConfigFile } from '../../config/index.ts';
import { ConfigError, systemClock } from '../../core/index.ts';
import { explainRequest, renderExplanation, type Explanation, type ExplainQuery } from '../../l7/index.ts';
import { buildPools } from '../../pool/index.ts';
import { readRunFile } from '../../supervisor/index.ts';
import { jsonOption, parseCommandArgs, UsageError, type Command, type CommandIo, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [
  { name: 'config', short: 'c', value: 'FILE', description: 'the config: ask the edge running it, or explain from the file when none runs it' },
  { name: 'header', short: 'H', value: "'NAME: VALUE'", multiple: true, description: 'a request header (Host overrides the URL\'s host); repeatable' },
  { name: 'listener', short: 'l', value: 'NAME', default: "the listener on the URL's scheme and port", description: 'the listener that takes the request' },
  { name: 'client', value: 'ADDRESS', default: '127.0.0.1', description: 'the client address the balancer sees (ip_hash, consistent_hash on ip)' },
  { name: 'admin', value: 'URL', description: 'ask the edge whose admin API is at URL (http://host:port or https://host:port) instead of finding it by FILE' },
  { name: 'token-file', value: 'FILE', description: "the admin token file, with --admin (the edge's data_dir/admin.token)" },
  { name: 'admin-cert', value: 'FILE', description: 'the admin API certificate (admin.tls.cert), with an https --admin URL' },
  jsonOption,
];

export const command: Command = {
  summary: 'show which listener, route, filters and backend a request would get, without sending it',
  synopsis: "METHOD URL [-H 'NAME: VALUE']... [-l NAME] (-c FILE | --admin URL --token-file FILE) [--json]",
  description: [
    'Explains how the edge would handle one request: the listener that takes it (by the URL\'s scheme and port, or -l), every route up to the one that matches with why each earlier one did not (host, path, method or header mismatch), the filters (middleware) that would run, and the pool\'s backends with health, weight and requests in flight in the policy\'s order (the pick, then what a retry would get, then the unusable ones), marking the one the balancer would pick, with what the policy does.',
    'Nothing is sent upstream and no balancer state moves: the balancer is asked what it would pick (peek) without taking a turn or a lease. Route matching is the very code the listeners run.',
    'With -c FILE, the edge running FILE (found through its data_dir\'s switchyard.run.json, with an admin API) answers, with live health and in-flight counts. When no edge runs FILE, the answer comes from FILE alone: health unknown, every backend counted usable. --admin asks a given edge instead.',
    'Exit status: 0 when a route matches, 1 when none does or the request cannot be placed (no listener), 2 for wrong arguments.',
  ],
  arguments: [
    { name: 'METHOD', description: 'the request method (GET, POST, …)' },
    { name: 'URL', description: 'the absolute URL as the client would request it, e.g. http://localhost:8080/api/users' },
  ],
  options,
  examples: [
    'switchyard explain GET http://localhost:8080/api/users -c switchyard.yaml',
    "switchyard explain POST https://api.example.test/v1/orders -H 'X-Tenant: blue' -c switchyard.yaml",
    'switchyard explain GET http://localhost:8080/ --admin http://127.0.0.1:9901 --token-file /var/lib/switchyard/admin.token --json',
  ],
  async run(args, io) {
    const parsed = parseCommandArgs(args, options);
    if (parsed.positionals.length !== 2) throw new UsageError('expected METHOD and URL');
    const [method, url] = parsed.positionals;
    if (!URL.canParse(url)) throw new UsageError(`URL must be absolute (http://host:port/path), got ${JSON.stringify(url)}`);
    const headers = parsed.list('header').map((header): [string, string] => {
      const colon = header.indexOf(':');
      if (colon <= 0) throw new UsageError(`-H expects 'NAME: VALUE', got ${JSON.stringify(header)}`);
      return [header.slice(0, colon).trim(), header.slice(colon + 1).trim()];
    });
    const query: ExplainQuery = { method, url, headers, listener: parsed.string('listener'), clientAddress: parsed.string('client') };
    const adminUrl = parsed.string('admin');
    const file = parsed.string('config');
    if ((adminUrl === undefined) === (file === undefined)) throw new UsageError('give either -c FILE or --admin URL');
    let explained: Explanation | undefined;
    if (adminUrl !== undefined) {
      const tokenFile = parsed.string('token-file');
      if (!tokenFile) throw new UsageError('--admin needs --token-file FILE');
      explained = await askEdge(adminAddress(adminUrl), await readAdminToken(path.resolve(tokenFile)), parsed.string('admin-cert'), query, io);
      if (!explained) return 1;
    } else {
      let loaded;
      try {
        loaded = await loadConfigFile(file!);
      } catch (err) {
        if (err instanceof ConfigError) {
          io.stderr.write(`${err.message}\n`);
          return 1;
        }
        throw err;
      }
      const found = await readRunFile(path.resolve(loaded.baseDir, loaded.config.data_dir));
      const running = found.ok && found.record.config === loaded.file ? found.record : undefined;
      if (running?.admin && running.tokenFile) {
        explained = await askEdge(running.admin, await readAdminToken(running.tokenFile), running.adminCert, query, io);
        if (!explained) return 1;
      } else {
        const pools = buildPools(loaded.config.pools, { clock: systemClock });
        try {
          const source = running ? `${loaded.file} (the edge running it has no admin API: health unknown)` : `${loaded.file} (no running edge: health unknown)`;
          explained = explainRequest(query, { config: loaded.config, pools, healthKnown: false, source });
        } finally {
          pools.close();
        }
      }
    }
    io.stdout.write(parsed.flag('json') ? `${JSON.stringify(explained, null, 2)}\n` : renderExplanation(explained));
    return explained.route === null ? 1 : 0;
  },
};

function adminAddress(text: string): AdminAddress {
  if (!URL.canParse(text)) throw new UsageError(`--admin expects http://host:port or https://host:port, got ${JSON.stringify(text)}`);
  const url = new URL(text);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--admin expects an http or https URL, got ${JSON.stringify(text)}`);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || (scheme === 'https' ? 443 : 80)), scheme };
}

async function askEdge(address: AdminAddress, token: string, certFile: string | undefined, query: ExplainQuery, io: CommandIo): Promise<Explanation | undefined> {
  const search = new URLSearchParams({ method: query.method, url: query.url });
  for (const [name, value] of query.headers) search.append('header', `${name}: ${value}`);
  if (query.listener) search.set('listener', query.listener);
  if (query.clientAddress) search.set('client', query.clientAddress);
  let answer;
  try {
    answer = await getAdmin(address, `/api/explain?${search}`, token, certFile, 10_000);
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    io.stderr.write(`admin API at ${address.host}:${address.port} not reachable (${cause?.message ?? (err as Error).message}): is switchyard running?\n`);
    return undefined;
  }
  if (answer.status !== 200) {
    io.stderr.write(`explain: the admin API answered ${answer.status}: ${answer.body}\n`);
    return undefined;
  }
  return JSON.parse(answer.body) as Explanation;
}
