// An edge for filter end-to-end tests: one HTTP/1.1 origin and one h2c origin (the test's own handler),
// h2c listeners for both HTTP/2 engines (each also speaks HTTP/1.1 to a client that does) built in this
// process over the built-in filters, and curl as the client. `pairs` lists every client × pool pair.
import http from 'node:http';
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseConfigText } from '../../../src/config/index.ts';
import { silentLogger, systemClock } from '../../../src/core/index.ts';
import { buildPools } from '../../../src/pool/index.ts';
import { createH2Listener, type H2Listener } from '../../../src/h2/index.ts';
import { builtinFilterHost, type FilterHost } from '../../../src/l7/index.ts';

/** What the origins hand to the test: the request (method, url, lower-case headers) and a response writer. */
export interface OriginRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
}
export interface OriginResponse {
  head(status: number, headers: Record<string, string>): void;
  write(chunk: string | Buffer): void;
  end(chunk?: string | Buffer): void;
  /** Drops the request without a response (the origin fails: the connection is reset, the stream cancelled). */
  destroy(): void;
}
export type OriginHandler = (request: OriginRequest, response: OriginResponse) => void;

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export const pairs = [
  { client: 'HTTP/1.1', engine: 'auto', flags: ['--http1.1'] },
  { client: 'HTTP/2 (codec)', engine: 'auto', flags: ['--http2-prior-knowledge'] },
  { client: 'HTTP/2 (http2.engine: node)', engine: 'node', flags: ['--http2-prior-knowledge'] },
].flatMap((client) => ['h1', 'h2'].map((pool) => ({ ...client, pool, name: `${client.client} → ${pool} pool`, tag: `${client.engine}-${client.flags[0].slice(2, 7)}-${pool}` })));

export type Pair = (typeof pairs)[number];

export interface Edge {
  /** The URL of `rest` (starting with '/') on the pair's listener, through its pool's route. */
  url(pair: Pair, rest: string): string;
  hosts: Record<string, FilterHost>;
  port(engine: string): number;
  close(): Promise<void>;
}

/**
 * Starts the origins and one listener per engine. `routes(pool)` gives the YAML flow-mapping fields of the
 * route to `pool` after `match` and `pool` (e.g. `middleware: [ { cache: {} } ]`).
 */
export async function startEdge(handler: OriginHandler, middleware: string): Promise<Edge> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-filter-e2e-'));
  const h1 = http.createServer((req, res) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : (value ?? '');
    req.resume();
    req.on('end', () =>
      handler(
        { method: req.method!, url: req.url!, headers },
        { head: (status, fields) => res.writeHead(status, fields), write: (chunk) => res.write(chunk), end: (chunk) => res.end(chunk), destroy: () => res.destroy() },
      ),
    );
  });
  const h2 = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  h2.on('stream', (stream, raw) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(raw)) if (!name.startsWith(':')) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    stream.resume();
    stream.on('end', () =>
      handler(
        { method: String(raw[':method']), url: String(raw[':path']), headers },
        {
          head: (status, fields) => stream.respond({ ':status': status, ...fields }),
          write: (chunk) => stream.write(chunk),
          end: (chunk) => (chunk === undefined ? stream.end() : stream.end(chunk)),
          destroy: () => {
            // the cancelled stream reports its own error: expected here
            stream.on('error', () => {});
            stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
          },
        },
      ),
    );
  });
  for (const server of [h1, h2]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const originPort = (server: http.Server | http2.Http2Server) => (server.address() as AddressInfo).port;
  const listeners: H2Listener[] = [];
  const built: ReturnType<typeof buildPools>[] = [];
  const ports: Record<string, number> = {};
  const hosts: Record<string, FilterHost> = {};
  for (const engine of ['auto', 'node']) {
    const yaml = `pools:
  h1: { backends: [ { address: 127.0.0.1:${originPort(h1)} } ] }
  h2: { protocol: h2c, backends: [ { address: 127.0.0.1:${originPort(h2)} } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: h2c
    http2: { engine: ${engine} }
    access_log: false
    timeouts: { upstream_response: 5s }
    routes:
      - { name: to-h1, match: { path_prefix: /h1/ }, strip_prefix: /h1, pool: h1, middleware: ${middleware} }
      - { name: to-h2, match: { path_prefix: /h2/ }, strip_prefix: /h2, pool: h2, middleware: ${middleware} }
`;
    const { config } = parseConfigText(yaml, 'edge.yaml', dir);
    const pools = buildPools(config.pools, { clock: systemClock });
    built.push(pools);
    hosts[engine] = builtinFilterHost();
    const listener = createH2Listener(config.listeners[0], { pools, logger: silentLogger(), accessLog: silentLogger(), clock: systemClock, dataDir: dir, baseDir: dir, filters: hosts[engine] });
    listeners.push(listener);
    await listener.start();
    ports[engine] = listener.address().port;
  }
  return {
    url: (pair, rest) => `http://127.0.0.1:${ports[pair.engine]}/${pair.pool}${rest}`,
    hosts,
    port: (engine) => ports[engine],
    async close() {
      for (const listener of listeners) await listener.stop();
      for (const pools of built) pools.close();
      for (const host of Object.values(hosts)) await host.close();
      for (const session of sessions) session.destroy();
      h1.closeAllConnections();
      for (const server of [h1, h2]) await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One curl request; `fields` are "name: value" request headers. The body comes back as curl wrote it. */
export function curl(flags: string[], url: string, fields: string[] = []): Promise<Reply> {
  // -I prints the head itself (with -D as well, curl interleaves the two copies)
  const args = ['-sS', '--max-time', '10', ...(flags.includes('-I') ? [] : ['-D', '-']), ...flags, ...fields.flatMap((field) => ['-H', field]), url];
  return new Promise((resolve, reject) => {
    execFile('curl', args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${args.join(' ')}: ${stderr.toString() || error.message}`));
      const split = stdout.indexOf('\r\n\r\n');
      const lines = stdout.subarray(0, split).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const name = line.slice(0, line.indexOf(':')).toLowerCase();
        const value = line.slice(line.indexOf(':') + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      resolve({ status: Number(lines[0].split(' ')[1]), headers, body: stdout.subarray(split + 4) });
    });
  });
}
