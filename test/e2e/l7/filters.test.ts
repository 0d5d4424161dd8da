// Route and listener `middleware:` (the `headers` filter) on every protocol pair, with real clients and a
// real switchyard process: curl over HTTP/1.1 and over HTTP/2 (h2c prior knowledge on Switchyard's codec
// and on `http2.engine: node`, and ALPN h2 over https) to an HTTP/1.1 pool and to an h2c pool. The same
// cases run on each: request fields set / added / removed as the origin sees them (the client's own and the
// edge's forwarded ones), placeholders, the listener's filters before the route's, and response fields
// set / added / removed as the client sees them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

/** Both origins answer JSON of the request fields they got (names lower-case, repeated values joined) and send x-internal / x-kept. */
type Seen = Record<string, string>;

function seen(headers: Record<string, string | string[] | undefined>): Seen {
  const out: Seen = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !name.startsWith(':')) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

const originFields = { 'content-type': 'application/json', 'x-internal': 'secret', 'x-kept': 'yes', 'x-edge': 'origin' };

async function startH1Origin(): Promise<{ address: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, originFields);
      res.end(JSON.stringify(seen(req.headers)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function startH2cOrigin(): Promise<{ address: string; close: () => Promise<void> }> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200, ...originFields });
      stream.end(JSON.stringify(seen(headers)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Reply {
  status: number;
  headers: Seen;
  body: string;
}

/** curl with the given protocol flags; response fields from -D (the last head: HTTP/2 has no 1xx here). */
function curl(flags: string[], url: string, fields: string[]): Promise<Reply> {
  const args = ['-sS', '-k', '--max-time', '10', '-D', '-', ...flags, ...fields.flatMap((field) => ['-H', field]), url];
  return new Promise((resolve, reject) => {
    execFile('curl', args, { encoding: 'latin1' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${args.join(' ')}: ${stderr || error.message}`));
      const split = stdout.indexOf('\r\n\r\n');
      const lines = stdout.slice(0, split).split('\r\n');
      const headers: Seen = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      resolve({ status: Number(lines[0].split(' ')[1]), headers, body: stdout.slice(split + 4) });
    });
  });
}

const listenerMiddleware = `
    middleware:
      - headers:
          request: { set: { x-order: listener }, add: { x-trail: listener } }
          response: { set: { x-edge: listener, x-listener: "yes" } }`;

const routes = `
    routes:
      - match: { path_prefix: /h1 }
        pool: h1
        middleware: &route
          - headers:
              request:
                set: { x-client: "{client_ip}", x-order: route, x-real-ip: "edge-{client_ip}", x-info: "{method} {scheme} {host} {path} {request_id}" }
                add: { x-multi: b, x-trail: route }
                remove: [x-drop, x-forwarded-host]
              response:
                remove: [x-internal]
                set: { x-edge: switchyard }
                add: { x-seen-path: "{path}" }
      - match: { path_prefix: /h2 }
        pool: h2
        middleware: *route
      - match: { path_prefix: /bare }
        pool: h1`;

function config(h1: string, h2: string): string {
  const listener = (name: string, protocol: string, extra = '') => `
  - name: ${name}
    listen: 127.0.0.1:0
    protocol: ${protocol}${extra}${listenerMiddleware}${routes}`;
  return `pools:
  h1:
    backends: [ { address: ${h1} } ]
  h2:
    protocol: h2c
    backends: [ { address: ${h2} } ]
listeners:${listener('plain', 'http')}${listener('codec', 'h2c')}${listener('node', 'h2c', '\n    http2: { engine: node }')}${listener('tls', 'https', '\n    tls: { self_signed: true }')}
`;
}

const pairs: { client: string; listener: string; flags: string[]; scheme: string }[] = [
  { client: 'HTTP/1.1', listener: 'plain', flags: ['--http1.1'], scheme: 'http' },
  { client: 'HTTP/1.1 over TLS', listener: 'tls', flags: ['--http1.1'], scheme: 'https' },
  { client: 'HTTP/2 h2c (codec)', listener: 'codec', flags: ['--http2-prior-knowledge'], scheme: 'http' },
  { client: 'HTTP/2 h2c (http2.engine: node)', listener: 'node', flags: ['--http2-prior-knowledge'], scheme: 'http' },
  { client: 'HTTP/2 over TLS (ALPN h2)', listener: 'tls', flags: ['--http2'], scheme: 'https' },
];

describe('middleware: the headers filter on every protocol pair', { timeout: 60_000 }, () => {
  let h1: Awaited<ReturnType<typeof startH1Origin>>;
  let h2: Awaited<ReturnType<typeof startH2cOrigin>>;
  let edge: RunningSwitchyard;

  before(async () => {
    h1 = await startH1Origin();
    h2 = await startH2cOrigin();
    edge = await runSwitchyard(config(h1.address, h2.address));
  });

  after(async () => {
    await edge?.stop();
    await h1?.close();
    await h2?.close();
  });

  for (const { client, listener, flags, scheme } of pairs) {
    for (const pool of ['h1', 'h2']) {
      const upstream = pool === 'h1' ? 'HTTP/1.1 pool' : 'h2c pool';
      it(`${client} → ${upstream}: request fields as the origin sees them, response fields as the client sees them`, async () => {
        const url = `${edge.url(listener, `/${pool}/info?q=1`)}`.replace(/^http:/, `${scheme}:`);
        const reply = await curl(flags, url, ['x-client: forged', 'x-multi: a', 'x-drop: gone', 'x-request-id: rid-42', 'x-keep: kept']);
        assert.equal(reply.status, 200, reply.body);
        const origin = JSON.parse(reply.body) as Seen;
        const host = new URL(url).host;
        // set replaces the client's field; placeholders are filled per request
        assert.equal(origin['x-client'], '127.0.0.1');
        assert.equal(origin['x-info'], `GET ${scheme} ${host} /${pool}/info rid-42`);
        // set also replaces a field the edge adds itself (forwarded headers), remove drops one
        assert.equal(origin['x-real-ip'], 'edge-127.0.0.1');
        assert.equal(origin['x-forwarded-host'], undefined);
        assert.equal(origin['x-forwarded-for'], '127.0.0.1', 'forwarded headers the filters leave alone are still there');
        // add appends after the client's; remove drops the client's; others pass
        assert.equal(origin['x-multi'], 'a, b');
        assert.equal(origin['x-drop'], undefined);
        assert.equal(origin['x-keep'], 'kept');
        // the listener's filters run first, then the route's
        assert.equal(origin['x-order'], 'route');
        assert.equal(origin['x-trail'], 'listener, route');
        // response: removed, replaced (the route's set after the listener's), added, and left alone
        assert.equal(reply.headers['x-internal'], undefined);
        assert.equal(reply.headers['x-edge'], 'switchyard');
        assert.equal(reply.headers['x-listener'], 'yes');
        assert.equal(reply.headers['x-seen-path'], `/${pool}/info`);
        assert.equal(reply.headers['x-kept'], 'yes');
      });
    }

    it(`${client} → HTTP/1.1 pool: a route without its own middleware runs the listener's`, async () => {
      const url = `${edge.url(listener, '/bare')}`.replace(/^http:/, `${scheme}:`);
      const reply = await curl(flags, url, ['x-client: mine']);
      const origin = JSON.parse(reply.body) as Seen;
      assert.equal(origin['x-order'], 'listener');
      assert.equal(origin['x-trail'], 'listener');
      assert.equal(origin['x-client'], 'mine');
      assert.equal(reply.headers['x-edge'], 'listener');
      assert.equal(reply.headers['x-internal'], 'secret');
    });
  }
});
