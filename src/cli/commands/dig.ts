// switchyard dig NAME [TYPE] [@server[:port]]: a DNS query shown like dig; --trace walks from the root.
import { readFile } from 'node:fs/promises';
import { dig, digTrace, loadRootHints, builtInRootHints, parseHostPort, renderDig, renderDigTrace, runDiagnostic, toRecordType, type NameServer } from '../../diag/index.ts';
import { UsageError, jsonOption, numberOption, parseCommandArgs, type Command, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [
  { name: 'port', short: 'p', value: 'PORT', default: '53, with --tls 853', description: 'server port (with --trace: the port of every server in the walk)' },
  { name: 'tcp', description: 'query over TCP (UDP retries over TCP by itself when the answer is truncated)' },
  { name: 'tls', description: "query over TLS (DNS over TLS, RFC 7858), verifying the server's certificate" },
  { name: 'tls-ca', value: 'FILE', description: "trust this CA (PEM) besides the system's, for --tls and --https" },
  { name: 'tls-name', value: 'NAME', default: 'the server', description: 'the name the certificate must be for, with --tls' },
  { name: 'https', value: 'URL', description: 'query this DNS-over-HTTPS endpoint (RFC 8484) instead of @server' },
  { name: 'post', description: 'with --https: POST the query (default GET ?dns=)' },
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
  synopsis: 'NAME [TYPE] [@server[:port] | --https URL] [-p PORT] [--tcp | --tls] [--trace] [--json]',
  description: [
    'Sends one DNS query and prints the answer the way dig does: header flags, question, answer, authority and additional sections, the query time and the server. With --trace it starts at the root servers and follows each referral to the authoritative answer, showing every step. --tls asks over DNS over TLS (port 853), --https URL a DNS-over-HTTPS endpoint.',
    'Exit status: 0 when an answer came back (whatever its rcode), 1 when no server answered, 2 for wrong arguments.',
  ],
  arguments: [
    { name: 'NAME', description: 'the name to look up' },
    { name: 'TYPE', description: 'record type: A, AAAA, CNAME, MX, NS, SOA, TXT, SRV, PTR, CAA, ANY … (default A)' },
    { name: '@server[:port]', description: 'server to ask (default: the first nameserver in /etc/resolv.conf), port 53 (--tls: 853)' },
  ],
  options,
  examples: ['switchyard dig example.com', 'switchyard dig @127.0.0.1 -p 5353 api.example.test AAAA', 'switchyard dig example.com --trace', 'switchyard dig example.test --trace --root @127.0.0.1:5353 --json', 'switchyard dig --tls --tls-ca ca.pem @127.0.0.1:8853 www.example.test', 'switchyard dig example.com --https https://dns.example.test/dns-query'],
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
    const overTls = parsed.flag('tls');
    const httpsText = parsed.string('https');
    const caFile = parsed.string('tls-ca');
    const shown = [name, type, ...servers, ...(tcp ? ['--tcp'] : []), ...(overTls ? ['--tls'] : []), ...(httpsText !== undefined ? ['--https', httpsText] : []), ...(walk ? ['--trace'] : [])].join(' ');
    if (overTls && (tcp || walk)) throw new UsageError('--tls goes without --tcp and --trace');
    if (httpsText !== undefined && (overTls || tcp || walk || servers.length > 0 || port !== 0)) throw new UsageError('--https names the server: it goes without @server, -p, --tcp, --tls and --trace');
    if (parsed.flag('post') && httpsText === undefined) throw new UsageError('--post goes with --https');
    if (!overTls && parsed.string('tls-name') !== undefined) throw new UsageError('--tls-name goes with --tls');
    if (!overTls && httpsText === undefined && caFile !== undefined) throw new UsageError('--tls-ca goes with --tls or --https');
    let url: URL | undefined;
    if (httpsText !== undefined) {
      url = URL.canParse(httpsText) ? new URL(httpsText) : undefined;
      if (url?.protocol !== 'https:') throw new UsageError(`bad --https ${JSON.stringify(httpsText)}: expected an https:// URL`);
    }

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
    const ca = caFile === undefined ? undefined : await readFile(caFile).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read --tls-ca ${caFile}: ${err.code ?? err.message}`);
    });
    const tls = overTls ? { ca: ca && [ca], servername: parsed.string('tls-name') } : undefined;
    const https = url && { url, method: parsed.flag('post') ? ('POST' as const) : ('GET' as const), ca: ca && [ca] };
    return runDiagnostic(io, 'dig', json,
      () => dig({ name, type, server: server?.host, port: port || server?.port || (tls ? 853 : 53), tcp, tls, https, timeoutMs: timeout * 1000 }),
      { render: (result) => renderDig(result, shown) });
  },
};
