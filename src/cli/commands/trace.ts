// switchyard trace URL: a request's whole life as a waterfall (DNS, TCP, TLS, request, first byte,
// download) with the server's own phases from Server-Timing.
import { parseHostPort, renderTrace, runDiagnostic, trace, traceFailure } from '../../diag/index.ts';
import { UsageError, numberOption, parseCommandArgs, type Command } from '../command.ts';

const usage = `usage: switchyard trace URL [--dns HOST:PORT] [--resolve HOST:PORT:ADDR] [--insecure] [--cacert FILE]
                        [--admin-token TOKEN] [-X METHOD] [-H 'Name: value'] [--timeout SECONDS] [--json]
  --dns HOST:PORT            resolve the URL's host through this DNS server (shows the CNAME chain and TTLs)
  --resolve HOST:PORT:ADDR   use ADDR for HOST:PORT, like curl (repeatable)
  --insecure, -k             go on when the certificate does not verify (the trace says why)
  --cacert FILE              trust the CA certificate(s) in FILE (PEM)
  --admin-token TOKEN        sent as x-switchyard-trace: a Switchyard edge then reports its phases
  -X, --request METHOD       request method (default GET)
  -H, --header 'Name: value' extra request header (repeatable; a traceparent here replaces the generated one)
  --timeout SECONDS          limit for the whole request (default 10)
  --json                     print the result as JSON`;

function parseResolve(text: string): { host: string; port: number; address: string } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+):(.+)$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || !(port >= 1 && port <= 65535)) throw new UsageError(`--resolve expects HOST:PORT:ADDRESS, got ${JSON.stringify(text)}`);
  return { host: match[1].replace(/^\[|\]$/g, ''), port, address: match[3].replace(/^\[|\]$/g, '') };
}

export const command: Command = {
  summary: 'trace one HTTP(S) request: DNS, TCP, TLS, first byte and download as a waterfall',
  usage,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      dns: { type: 'string' },
      resolve: { type: 'string', multiple: true },
      insecure: { type: 'boolean', short: 'k' },
      cacert: { type: 'string' },
      'admin-token': { type: 'string' },
      request: { type: 'string', short: 'X' },
      header: { type: 'string', short: 'H', multiple: true },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('expected one URL');
    let dns: { host: string; port: number } | undefined;
    if (values.dns) {
      const server = parseHostPort(values.dns);
      if (!server) throw new UsageError(`--dns expects HOST:PORT, got ${JSON.stringify(values.dns)}`);
      dns = { host: server.host, port: server.port ?? 53 };
    }
    const headers = (values.header ?? []).map((text): [string, string] => {
      const colon = text.indexOf(':');
      if (colon <= 0) throw new UsageError(`-H expects 'Name: value', got ${JSON.stringify(text)}`);
      return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
    });
    const method = values.request ?? 'GET';
    if (!/^[A-Za-z]+$/.test(method)) throw new UsageError(`bad method ${JSON.stringify(method)}`);
    const timeout = numberOption(values.timeout, '--timeout', 10, 0.001, 3600);
    return runDiagnostic(io, 'trace', Boolean(values.json), () => trace({
      url: positionals[0],
      method,
      headers,
      dns,
      resolve: (values.resolve ?? []).map(parseResolve),
      insecure: values.insecure,
      caFile: values.cacert,
      adminToken: values['admin-token'],
      timeoutMs: timeout * 1000,
    }), { render: renderTrace, failure: traceFailure });
  },
};
