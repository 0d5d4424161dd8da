// switchyard dig NAME [TYPE] [@server[:port]]: a DNS query shown like dig; --trace walks from the root.
import { readFile } from 'node:fs/promises';
import { dig, digTrace, loadRootHints, builtInRootHints, parseHostPort, renderDig, renderDigTrace, runDiagnostic, toRecordType, type NameServer } from '../../diag/index.ts';
import { UsageError, numberOption, parseCommandArgs, type Command } from '../command.ts';

const usage = `usage: switchyard dig NAME [TYPE] [@server[:port] | --https URL] [-p PORT] [--tcp | --tls] [--trace] [--json]
  TYPE                 record type (default A)
  @server[:port]       server to ask (default: first nameserver in /etc/resolv.conf), port 53 (--tls: 853)
  -p, --port PORT      server port (with --trace: the port of every server in the walk)
  --tcp                query over TCP (UDP retries over TCP by itself when the answer is truncated)
  --tls                query over TLS (DNS over TLS, RFC 7858), verifying the server's certificate
  --tls-ca FILE        trust this CA (PEM) besides the system's, for --tls
  --tls-name NAME      the name the certificate must be for (default: the server)
  --https URL          query over HTTPS (DNS over HTTPS, RFC 8484) at this endpoint (--tls-ca applies)
  --post               with --https: POST the query (default GET ?dns=)
  --trace              walk from the root servers through each referral to the authoritative answer
  --root @ADDR[:PORT]  start --trace at this server instead of the built-in root hints
  --root-hints FILE    start --trace at the servers of a named.root-style file
  --timeout SECONDS    wait per try (default 5, --trace 3)
  --json               print the result as JSON`;

function parseServer(text: string): { host: string; port?: number } {
  const parsed = parseHostPort(text.replace(/^@/, ''));
  if (!parsed) throw new UsageError(`bad server ${JSON.stringify(text)}: expected @address[:port]`);
  return { host: parsed.host, port: parsed.port };
}

export const command: Command = {
  summary: 'query a DNS server and show the answer like dig (--trace: walk from the root)',
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      port: { type: 'string', short: 'p' },
      tcp: { type: 'boolean' },
      tls: { type: 'boolean' },
      'tls-ca': { type: 'string' },
      'tls-name': { type: 'string' },
      https: { type: 'string' },
      post: { type: 'boolean' },
      trace: { type: 'boolean' },
      root: { type: 'string' },
      'root-hints': { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    });
    const servers = positionals.filter((arg) => arg.startsWith('@'));
    const words = positionals.filter((arg) => !arg.startsWith('@'));
    if (words.length === 0 || words.length > 2) throw new UsageError('expected NAME [TYPE]');
    if (servers.length > 1) throw new UsageError('expected at most one @server');
    let [name, typeText] = words;
    if (typeText === undefined && toRecordType(name) && name === name.toUpperCase()) throw new UsageError(`expected a name before the type ${name}`);
    if (typeText !== undefined && !toRecordType(typeText) && toRecordType(name)) [name, typeText] = [typeText, name];
    const type = toRecordType(typeText ?? 'A');
    if (!type) throw new UsageError(`unknown record type ${JSON.stringify(typeText)}`);
    const port = numberOption(values.port, '--port', 0, 1, 65535);
    const timeout = numberOption(values.timeout, '--timeout', values.trace ? 3 : 5, 0.01, 600);
    const json = Boolean(values.json);
    const shown = [name, type, ...servers, ...(values.tcp ? ['--tcp'] : []), ...(values.tls ? ['--tls'] : []), ...(values.https !== undefined ? ['--https', values.https] : []), ...(values.trace ? ['--trace'] : [])].join(' ');
    if (values.tls && (values.tcp || values.trace)) throw new UsageError('--tls goes without --tcp and --trace');
    if (values.https !== undefined && (values.tls || values.tcp || values.trace || servers.length > 0 || values.port)) throw new UsageError('--https names the server: it goes without @server, -p, --tcp, --tls and --trace');
    if (values.post && values.https === undefined) throw new UsageError('--post goes with --https');
    if (!values.tls && values['tls-name']) throw new UsageError('--tls-name goes with --tls');
    if (!values.tls && values.https === undefined && values['tls-ca']) throw new UsageError('--tls-ca goes with --tls or --https');
    let url: URL | undefined;
    if (values.https !== undefined) {
      url = URL.canParse(values.https) ? new URL(values.https) : undefined;
      if (url?.protocol !== 'https:') throw new UsageError(`bad --https ${JSON.stringify(values.https)}: expected an https:// URL`);
    }

    if (values.trace) {
      if (servers.length > 0) throw new UsageError('--trace starts at the root: use --root @addr:port instead of @server');
      let roots: NameServer[] | undefined;
      let walkPort = port || 53;
      if (values.root) {
        const root = parseServer(values.root);
        roots = [{ name: 'root.', address: root.host }];
        walkPort = port || root.port || 53;
      }
      return runDiagnostic(io, 'dig', json, async () => {
        roots ??= values['root-hints'] ? await loadRootHints(values['root-hints']) : builtInRootHints();
        return digTrace({ name, type, roots, port: walkPort, tcp: values.tcp, timeoutMs: timeout * 1000 });
      }, { render: (result) => renderDigTrace(result, shown) });
    }

    if (values.root || values['root-hints']) throw new UsageError('--root and --root-hints go with --trace');
    const server = servers[0] ? parseServer(servers[0]) : undefined;
    const caFile = values['tls-ca'];
    const ca = caFile === undefined ? undefined : await readFile(caFile).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read --tls-ca ${caFile}: ${err.code ?? err.message}`);
    });
    const tls = values.tls ? { ca: ca && [ca], servername: values['tls-name'] } : undefined;
    const https = url && { url, method: values.post ? ('POST' as const) : ('GET' as const), ca: ca && [ca] };
    return runDiagnostic(io, 'dig', json,
      () => dig({ name, type, server: server?.host, port: port || server?.port || (tls ? 853 : 53), tcp: values.tcp, tls, https, timeoutMs: timeout * 1000 }),
      { render: (result) => renderDig(result, shown) });
  },
};
