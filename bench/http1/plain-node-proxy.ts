// The plainest Node reverse proxy, as a yardstick: a node:http server and one undici Pool per origin,
// answering through pool.stream(). It does what the other proxies are configured to do — append
// X-Forwarded-For, set X-Real-IP, drop hop-by-hop headers — and nothing else.
//
// usage: node bench/http1/plain-node-proxy.ts --upstream 127.0.0.1:PORT [--port 0] [--parent PID]
//        → prints "listening PORT"
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { exitWithParent } from '../common/processes.ts';

const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

function forwardHeaders(headers: IncomingHttpHeaders, client: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !hopByHop.has(name)) out[name] = value;
  }
  const prior = headers['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  out['x-real-ip'] = client;
  return out;
}

function responseHeaders(headers: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !hopByHop.has(name)) out[name] = value;
  }
  return out;
}

const upstream = option('upstream', '');
if (!upstream) throw new Error('plain-node-proxy: --upstream HOST:PORT is required');
const pool = new Pool(`http://${upstream}`, { connections: 64, keepAliveTimeout: 60_000 });

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const client = req.socket.remoteAddress ?? '';
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  pool.stream(
    { path: req.url ?? '/', method: req.method ?? 'GET', headers: forwardHeaders(req.headers, client), body: hasBody ? req : null, opaque: res },
    ({ statusCode, headers, opaque }) => {
      const downstream = opaque as typeof res;
      downstream.writeHead(statusCode, responseHeaders(headers));
      return downstream;
    },
    (err) => {
      if (!err) return;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-length': '11' });
        res.end('bad gateway');
      } else {
        res.destroy();
      }
    },
  );
});

server.listen(Number(option('port', '0')), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});

exitWithParent(Number(option('parent', '0')));
