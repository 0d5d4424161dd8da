// switchyard trace URL: a request's whole life as a waterfall (DNS, TCP, TLS, request, first byte,
// download) with the server's own phases from Server-Timing.
import { parseHostPort, renderTrace, runDiagnostic, trace, traceFailure } from '../../diag/index.ts';
import { UsageError, jsonOption, numberOption, parseCommandArgs, type Command, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [
  { name: 'dns', value: 'HOST:PORT', default: 'the system resolver', description: 'resolve the URL\'s host through this DNS server (shows the CNAME chain and TTLs)' },
  { name: 'resolve', value: 'HOST:PORT:ADDR', multiple: true, description: 'use ADDR for HOST:PORT, like curl' },
  { name: 'insecure', short: 'k', description: 'go on when the certificate does not verify (the trace says why)' },
  { name: 'cacert', value: 'FILE', description: 'trust the CA certificate(s) in FILE (PEM)' },
  { name: 'admin-token', value: 'TOKEN', description: 'sent as x-switchyard-trace: a Switchyard edge then reports its phases' },
  { name: 'request', short: 'X', value: 'METHOD', default: 'GET', description: 'request method' },
  { name: 'header', short: 'H', value: "'Name: value'", multiple: true, description: 'extra request header (a traceparent here replaces the generated one)' },
  { name: 'timeout', value: 'SECONDS', default: '10', description: 'limit for the whole request' },
  jsonOption,
];

function parseResolve(text: string): { host: string; port: number; address: string } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+):(.+)$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || !(port >= 1 && port <= 65535)) throw new UsageError(`--resolve expects HOST:PORT:ADDRESS, got ${JSON.stringify(text)}`);
  return { host: match[1].replace(/^\[|\]$/g, ''), port, address: match[3].replace(/^\[|\]$/g, '') };
}

export const command: Command = {
  summary: 'trace one HTTP(S) request: DNS, TCP, TLS, first byte and download as a waterfall',
  synopsis: 'URL [--dns HOST:PORT] [--resolve HOST:PORT:ADDR] [-k] [--cacert FILE] [--admin-token TOKEN] [-X METHOD] [-H \'Name: value\'] [--timeout SECONDS] [--json]',
  description: [
    'Makes one HTTP(S) request and shows its whole life as a waterfall: DNS, TCP connect, TLS handshake (version, cipher, certificate chain), request sent, first byte, download. A Switchyard edge adds its own phases through Server-Timing when given the admin token; the W3C traceparent sent is printed so the request can be found in the access log.',
    'Exit status: 0 for a response below 400, 1 for a failure at any layer (the line says which: DNS, TCP, TLS, HTTP) or a status of 400 or above, 2 for wrong arguments.',
  ],
  arguments: [{ name: 'URL', description: 'http:// or https:// URL to request' }],
  options,
  examples: [
    'switchyard trace https://example.com/',
    'switchyard trace --resolve api.example.test:8443:127.0.0.1 --cacert data/tls/ca/ca.pem https://api.example.test:8443/api/users',
    'switchyard trace -X POST -H \'content-type: application/json\' --json http://127.0.0.1:8080/api/orders',
  ],
  async run(args, io) {
    const parsed = parseCommandArgs(args, options);
    const positionals = parsed.positionals;
    if (positionals.length !== 1) throw new UsageError('expected one URL');
    let dns: { host: string; port: number } | undefined;
    const dnsText = parsed.string('dns');
    if (dnsText) {
      const server = parseHostPort(dnsText);
      if (!server) throw new UsageError(`--dns expects HOST:PORT, got ${JSON.stringify(dnsText)}`);
      dns = { host: server.host, port: server.port ?? 53 };
    }
    const headers = parsed.list('header').map((text): [string, string] => {
      const colon = text.indexOf(':');
      if (colon <= 0) throw new UsageError(`-H expects 'Name: value', got ${JSON.stringify(text)}`);
      return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
    });
    const method = parsed.string('request') ?? 'GET';
    if (!/^[A-Za-z]+$/.test(method)) throw new UsageError(`bad method ${JSON.stringify(method)}`);
    const timeout = numberOption(parsed.string('timeout'), '--timeout', 10, 0.001, 3600);
    return runDiagnostic(io, 'trace', parsed.flag('json'), () => trace({
      url: positionals[0],
      method,
      headers,
      dns,
      resolve: parsed.list('resolve').map(parseResolve),
      insecure: parsed.flag('insecure'),
      caFile: parsed.string('cacert'),
      adminToken: parsed.string('admin-token'),
      timeoutMs: timeout * 1000,
    }), { render: renderTrace, failure: traceFailure });
  },
};
