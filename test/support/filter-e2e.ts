// End-to-end harness for request filters: a real switchyard process whose listeners cover every
// downstream (HTTP/1.1, HTTP/1.1 over TLS, h2c on the codec and on `http2.engine: node`, HTTP/2 over TLS)
// and whose routes /h1 and /h2 reach an HTTP/1.1 and an h2c origin through the same middleware; both
// origins record every request they get (path and fields), so a test proves what did or did not reach
// an upstream; curl is the client.
import http from 'node:http';
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';

export type Fields = Record<string, string>;

export interface SeenRequest {
  pool: 'h1' | 'h2';
  method: string;
  path: string;
  headers: Fields;
  /** The request body as received (Latin-1). */
  body: string;
}

function flatten(headers: Record<string, string | string[] | undefined>): Fields {
  const out: Fields = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !name.startsWith(':')) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

export interface RecordingOrigins {
  h1: string;
  h2: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** An HTTP/1.1 and an h2c origin answering 200 with JSON of the fields they got, recording each request. */
export async function startRecordingOrigins(): Promise<RecordingOrigins> {
  const seen: SeenRequest[] = [];
  const h1 = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers = flatten(req.headers);
      seen.push({ pool: 'h1', method: req.method!, path: req.url!, headers, body: Buffer.concat(chunks).toString('latin1') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(headers));
    });
  });
  const h2 = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  h2.on('stream', (stream, fields) => {
    stream.on('error', () => undefined);
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const headers = flatten(fields);
      seen.push({ pool: 'h2', method: String(fields[':method']), path: String(fields[':path']), headers, body: Buffer.concat(chunks).toString('latin1') });
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify(headers));
    });
  });
  await new Promise<void>((resolve) => h1.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  return {
    h1: `127.0.0.1:${(h1.address() as AddressInfo).port}`,
    h2: `127.0.0.1:${(h2.address() as AddressInfo).port}`,
    seen,
    async close() {
      for (const session of sessions) session.destroy();
      h1.closeAllConnections();
      await new Promise<void>((resolve) => h1.close(() => resolve()));
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    },
  };
}

/**
 * A config with the two pools and four listeners (plain, codec, node, tls), each routing /h1 and /h2
 * through `middleware` (a list of `{ name: settings }`, written as JSON, which YAML reads as is).
 */
export function filterEdgeConfig(origins: Pick<RecordingOrigins, 'h1' | 'h2'>, middleware: unknown[], options: { extraYaml?: string } = {}): string {
  const list = JSON.stringify(middleware);
  const listener = (name: string, protocol: string, extra = '') => `
  - name: ${name}
    listen: 127.0.0.1:0
    protocol: ${protocol}${extra}
    routes:
      - { match: { path_prefix: /h1 }, pool: h1, middleware: ${list} }
      - { match: { path_prefix: /h2 }, pool: h2, middleware: ${list} }`;
  return `${options.extraYaml ?? ''}pools:
  h1:
    backends: [ { address: ${origins.h1} } ]
  h2:
    protocol: h2c
    backends: [ { address: ${origins.h2} } ]
listeners:${listener('plain', 'http')}${listener('codec', 'h2c')}${listener('node', 'h2c', '\n    http2: { engine: node }')}${listener('tls', 'https', '\n    tls: { self_signed: true }')}
`;
}

/** Every downstream the config above offers, with the curl flags that speak it. */
export const downstreams: { client: string; listener: string; flags: string[]; scheme: 'http' | 'https' }[] = [
  { client: 'HTTP/1.1', listener: 'plain', flags: ['--http1.1'], scheme: 'http' },
  { client: 'HTTP/1.1 over TLS', listener: 'tls', flags: ['--http1.1'], scheme: 'https' },
  { client: 'HTTP/2 h2c (codec)', listener: 'codec', flags: ['--http2-prior-knowledge'], scheme: 'http' },
  { client: 'HTTP/2 h2c (http2.engine: node)', listener: 'node', flags: ['--http2-prior-knowledge'], scheme: 'http' },
  { client: 'HTTP/2 over TLS (ALPN h2)', listener: 'tls', flags: ['--http2'], scheme: 'https' },
];

export const pools = ['h1', 'h2'] as const;

export interface Reply {
  status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Fields;
  /** Repeated fields kept apart (set-cookie). */
  all: [string, string][];
  body: string;
}

/** curl with the given flags and request fields; the response's last head and its body. */
export function curl(flags: string[], url: string, fields: string[] = [], extra: string[] = []): Promise<Reply> {
  const args = ['-sS', '-k', '--max-time', '10', '-D', '-', ...flags, ...fields.flatMap((field) => ['-H', field]), ...extra, url];
  return new Promise((resolve, reject) => {
    execFile('curl', args, { encoding: 'latin1', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${args.join(' ').slice(0, 400)}: ${stderr || error.message}`));
      const split = stdout.indexOf('\r\n\r\n');
      const lines = stdout.slice(0, split).split('\r\n');
      const headers: Fields = {};
      const all: [string, string][] = [];
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        all.push([name, value]);
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      resolve({ status: Number(lines[0].split(' ')[1]), headers, all, body: stdout.slice(split + 4) });
    });
  });
}

/** The URL of `path` on a downstream's listener, with its scheme. */
export function urlOf(edgeUrl: (listener: string, path: string) => string, downstream: { listener: string; scheme: string }, path: string): string {
  return edgeUrl(downstream.listener, path).replace(/^http:/, `${downstream.scheme}:`);
}
