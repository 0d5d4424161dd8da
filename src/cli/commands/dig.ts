// switchyard dig NAME [TYPE] [@server[:port]]: a DNS query shown like dig; --trace walks from the root.
import { dig, digTrace, loadRootHints, builtInRootHints, parseHostPort, renderDig, renderDigTrace, runDiagnostic, toRecordType, type NameServer } from '../../diag/index.ts';
import { UsageError, jsonOption, numberOption, parseCommandArgs, type Command, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [
  { name: 'port', short: 'p', value: 'PORT', default: '53', description: 'server port (with --trace: the port of every server in the walk)' },
  { name: 'tcp', description: 'query over TCP (UDP retries over TCP by itself when the answer is truncated)' },
  { name: 'trace', description: 'walk from the root servers through each referral to the authoritative answer' },
  { name: 'root', value: '@ADDR[:PORT]', default: 'the built-in root hints', description: 'start --trace at this server' },
  { name: 'root-hints', value: 'FILE', description: 'start --trace at the servers of a named.root-style file' },
  { name: 'timeout', value: 'SECONDS', default: '5, with --trace 3', description: 'wait per try' },
  jsonOption,
];

function parseServer(text: string): { host: string; port?: number } {
  const parsed = parseHostPort(text.replace(/^@/, ''));
  if (!parsed) throw new UsageError(`bad server ${JSON.stringify(text)}: expected @address[:port]`);
  return { host: parsed.host, port: parsed.port };
}

export const command: Command = {
  summary: 'query a DNS server and show the answer like dig (--trace: walk from the root)',
  synopsis: 'NAME [TYPE] [@server[:port]] [-p PORT] [--tcp] [--trace] [--json]',
  description: [
    'Sends one DNS query and prints the answer the way dig does: header flags, question, answer, authority and additional sections, the query time and the server. With --trace it starts at the root servers and follows each referral to the authoritative answer, showing every step.',
    'Exit status: 0 when an answer came back (whatever its rcode), 1 when no server answered, 2 for wrong arguments.',
  ],
  arguments: [
    { name: 'NAME', description: 'the name to look up' },
    { name: 'TYPE', description: 'record type: A, AAAA, CNAME, MX, NS, SOA, TXT, SRV, PTR, CAA, ANY … (default A)' },
    { name: '@server[:port]', description: 'server to ask (default: the first nameserver in /etc/resolv.conf)' },
  ],
  options,
  examples: ['switchyard dig example.com', 'switchyard dig @127.0.0.1 -p 5353 api.example.test AAAA', 'switchyard dig example.com --trace', 'switchyard dig example.test --trace --root @127.0.0.1:5353 --json'],
  async run(args, io) {
    const parsed = parseCommandArgs(args, options);
    const positionals = parsed.positionals;
    const servers = positionals.filter((arg) => arg.startsWith('@'));
    const words = positionals.filter((arg) => !arg.startsWith('@'));
    if (words.length === 0 || words.length > 2) throw new UsageError('expected NAME [TYPE]');
    if (servers.length > 1) throw new UsageError('expected at most one @server');
    let [name, typeText] = words;
    if (typeText === undefined && toRecordType(name) && name === name.toUpperCase()) throw new UsageError(`expected a name before the type ${name}`);
    if (typeText !== undefined && !toRecordType(typeText) && toRecordType(name)) [name, typeText] = [typeText, name];
    const type = toRecordType(typeText ?? 'A');
    if (!type) throw new UsageError(`unknown record type ${JSON.stringify(typeText)}`);
    const port = numberOption(parsed.string('port'), '--port', 0, 1, 65535);
    const timeout = numberOption(parsed.string('timeout'), '--timeout', parsed.flag('trace') ? 3 : 5, 0.01, 600);
    const json = parsed.flag('json');
    const tcp = parsed.flag('tcp');
    const walk = parsed.flag('trace');
    const rootText = parsed.string('root');
    const rootHints = parsed.string('root-hints');
    const shown = [name, type, ...servers, ...(tcp ? ['--tcp'] : []), ...(walk ? ['--trace'] : [])].join(' ');

    if (walk) {
      if (servers.length > 0) throw new UsageError('--trace starts at the root: use --root @addr:port instead of @server');
      let roots: NameServer[] | undefined;
      let walkPort = port || 53;
      if (rootText) {
        const root = parseServer(rootText);
        roots = [{ name: 'root.', address: root.host }];
        walkPort = port || root.port || 53;
      }
      return runDiagnostic(io, 'dig', json, async () => {
        roots ??= rootHints ? await loadRootHints(rootHints) : builtInRootHints();
        return digTrace({ name, type, roots, port: walkPort, tcp, timeoutMs: timeout * 1000 });
      }, { render: (result) => renderDigTrace(result, shown) });
    }

    if (rootText || rootHints) throw new UsageError('--root and --root-hints go with --trace');
    const server = servers[0] ? parseServer(servers[0]) : undefined;
    return runDiagnostic(io, 'dig', json,
      () => dig({ name, type, server: server?.host, port: port || server?.port || 53, tcp, timeoutMs: timeout * 1000 }),
      { render: (result) => renderDig(result, shown) });
  },
};
