// What the rate_limit, cors and basic_auth end-to-end tests share: an HTTP/1.1 and an h2c origin that
// record what reached them, a curl client for HTTP/1.1 and HTTP/2 (prior knowledge), and the pairs they
// run over: two `protocol: h2c` listeners with the same routes (each takes both HTTP/1.1 and HTTP/2), one
// on the default HTTP/2 engine and one on `http2: { engine: node }`.
import http from 'node:http';
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { Defer } from '../../support/cleanup.ts';

export interface Seen {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface RecordingOrigins {
  h1: string;
  h2: string;
  /** Requests that reached either origin, in arrival order. */
  seen: Seen[];
}

/** Both origins answer 200 `origin` with `extra` response fields (e.g. the upstream's own CORS fields). */
export async function recordingOrigins(defer: Defer, extra: Record<string, string> = {}): Promise<RecordingOrigins> {
  const seen: Seen[] = [];
  const h1 = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'text/plain', ...extra });
    res.end('origin');
  });
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    seen.push({ method: String(headers[':method']), path: String(headers[':path']), headers });
    stream.respond({ ':status': 200, 'content-type': 'text/plain', ...extra });
    stream.end('origin');
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => h1.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  defer(async () => {
    h1.closeAllConnections();
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve) => h1.close(() => resolve()));
    await new Promise<void>((resolve) => h2.close(() => resolve()));
  });
  return { h1: `127.0.0.1:${(h1.address() as AddressInfo).port}`, h2: `127.0.0.1:${(h2.address() as AddressInfo).port}`, seen };
}

/** Pools `h1` and `h2` (h2c) over the two origins. */
export const twoPools = (origins: RecordingOrigins): string => `pools:
  h1: { backends: [ { address: ${origins.h1} } ] }
  h2: { protocol: h2c, backends: [ { address: ${origins.h2} } ] }
`;

export interface Reply {
  status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

/** Listeners `edge` and `edge-node` (the node:http2 engine), both with `routes` (YAML, indented 6). */
export const bothEngines = (routes: string): string => `listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
${routes}  - name: edge-node
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: node }
    routes:
${routes}`;

export const clients = [
  { client: 'HTTP/1.1', flags: ['--http1.1'], listener: 'edge' },
  { client: 'HTTP/2', flags: ['--http2-prior-knowledge'], listener: 'edge' },
  { client: 'HTTP/2 (engine: node)', flags: ['--http2-prior-knowledge'], listener: 'edge-node' },
] as const;

export const pools = ['h1', 'h2'] as const;

export function curl(flags: readonly string[], url: string, fields: readonly string[] = [], extra: readonly string[] = []): Promise<Reply> {
  const args = ['-sS', '--max-time', '10', '-D', '-', ...flags, ...extra, ...fields.flatMap((field) => ['-H', field]), url];
  return new Promise((resolve, reject) => {
    execFile('curl', args, { encoding: 'latin1' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${args.join(' ')}: ${stderr || error.message}`));
      const split = stdout.indexOf('\r\n\r\n');
      const lines = stdout.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const name = line.slice(0, line.indexOf(':')).toLowerCase();
        const value = line.slice(line.indexOf(':') + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      resolve({ status: Number(lines[0].split(' ')[1]), headers, body: stdout.slice(split + 4) });
    });
  });
}
