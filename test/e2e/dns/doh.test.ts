// DNS over HTTPS (RFC 8484) through the edge's own listeners: a `dns: {}` route answers GET ?dns= and POST
// application/dns-message from the worker's DNS engine, over HTTPS with HTTP/2 (kdig +https, curl --http2,
// switchyard dig --https) and HTTP/1.1 (curl --http1.1), and over h2c; Content-Type and Cache-Control
// max-age (the answer's smallest TTL) are right; bad input gets 400/405/411/413/415 and nothing else
// happens; a route to a pool next to it still proxies.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { queryBytes } from '../../../src/dns/wire/fixtures.ts';
import { decodeMessage } from '../../../src/dns/resolver/message.ts';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { switchyard } from '../diag/cli.ts';
import { makeTlsFixtures, type TlsFixtures } from '../diag/tls-fixtures.ts';
import { parseDig } from './support.ts';
import { startTinyDns, type TinyDns } from '../../support/tiny-dns.ts';

const run = promisify(execFile);

interface CurlResult {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
  version: string;
}

/** curl, its response head to a file in `dir` and its body to stdout; `body` is POSTed from a file. */
async function curl(dir: string, args: string[], body?: Buffer): Promise<CurlResult> {
  const bodyArgs: string[] = [];
  if (body) {
    const file = path.join(dir, 'doh-body.bin');
    await writeFile(file, body);
    bodyArgs.push('--data-binary', `@${file}`);
  }
  const headFile = path.join(dir, 'doh-head.txt');
  const { stdout } = await run('curl', ['-sS', '-D', headFile, '-o', '-', '--max-time', '10', ...bodyArgs, ...args], { encoding: 'buffer', timeout: 15_000 });
  const head = (await readFile(headFile, 'latin1')).split('\r\n\r\n').filter((block) => block.startsWith('HTTP/')).pop() ?? '';
  const [statusLine, ...lines] = head.split('\r\n');
  const [version, status] = statusLine.split(' ');
  const headers = new Map(lines.filter(Boolean).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(status), headers, body: stdout, version };
}

const b64url = (message: Buffer): string => message.toString('base64url');

/** POSTs `body` as application/dns-message over HTTP/2 (node:http2); the response status. */
async function h2Post(url: string, body: Buffer, ca: Buffer): Promise<number> {
  const session = http2.connect(new URL(url).origin, { ca });
  try {
    return await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': new URL(url).pathname, 'content-type': 'application/dns-message' });
      stream.once('response', (headers) => resolve(Number(headers[':status'])));
      stream.once('error', reject);
      stream.end(body);
    });
  } finally {
    session.destroy();
  }
}

describe('dns over https (dns: {} routes)', () => {
  let fixtures: TlsFixtures;
  let running: RunningSwitchyard;
  let origin: http.Server;
  let https: string;
  let h2c: string;
  before(async () => {
    fixtures = await makeTlsFixtures();
    origin = http.createServer((_request, response) => response.end('from the pool'));
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const originPort = (origin.address() as { port: number }).port;
    running = await runSwitchyard(`workers: 2
pools:
  app: { backends: [ { address: 127.0.0.1:${originPort} } ] }
listeners:
  - name: edge
    listen: 127.0.0.1:0
    protocol: https
    tls:
      certificates: [ { cert: ${path.join(fixtures.dir, 'server.crt')}, key: ${path.join(fixtures.dir, 'server.key')} } ]
    routes:
      - match: { path: /dns-query }
        dns: {}
      - match: { path_prefix: / }
        pool: app
  - name: plain
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
      - match: { path: /dns-query }
        dns: {}
dns:
  listen: [udp://127.0.0.1:0]
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test., negative_ttl: 60 }
      records:
        - { name: www, type: A, value: 192.0.2.7, ttl: 120 }
        - { name: www, type: A, value: 192.0.2.8, ttl: 120 }
        - { name: short, type: A, value: 192.0.2.9, ttl: 30 }
`);
    https = `https://127.0.0.1:${running.ready.listeners.edge.port}/dns-query`;
    h2c = `http://127.0.0.1:${running.ready.listeners.plain.port}/dns-query`;
  });
  after(async () => {
    await running?.stop();
    origin?.close();
    if (fixtures) await rm(fixtures.dir, { recursive: true, force: true });
  });

  const tlsArgs = (): string[] => ['--cacert', fixtures.caFile];

  it('answers kdig +https (HTTP/2, GET), verifying the certificate', async () => {
    const port = running.ready.listeners.edge.port;
    const { stdout } = await run('kdig', ['@127.0.0.1', '-p', String(port), '+https=/dns-query', `+tls-ca=${fixtures.caFile}`, '+tls-hostname=localhost', '+retry=0', '+time=5', 'www.example.test', 'A'], { timeout: 15_000 });
    // kdig prints the HTTP status first (";; HTTP session … (status: 200)"): the DNS header is the one that counts
    const result = parseDig(stdout.replace(/^;; HTTP session.*$/m, ''));
    assert.equal(result.status, 'NOERROR', stdout);
    assert.deepEqual(result.answer.map((record) => record[4]).sort(), ['192.0.2.7', '192.0.2.8']);
  });

  it('answers switchyard dig --https, GET and POST', async () => {
    for (const extra of [[], ['--post']]) {
      const result = await switchyard(['dig', '--https', https, '--tls-ca', fixtures.caFile, 'short.example.test', 'A', '--json', ...extra]);
      assert.equal(result.code, 0, result.stderr);
      const json = JSON.parse(result.stdout) as { status: string; answer: { data: string }[] };
      assert.equal(json.status, 'NOERROR');
      assert.deepEqual(json.answer.map((record) => record.data), ['192.0.2.9']);
    }
  });

  for (const [label, version] of [
    ['HTTP/2', '--http2'],
    ['HTTP/1.1', '--http1.1'],
  ] as const) {
    it(`${label} over TLS: GET ?dns= and POST, with content-type and cache-control from the smallest TTL`, async () => {
      const get = await curl(running.dir, [version, ...tlsArgs(), '-H', 'accept: application/dns-message', `${https}?dns=${b64url(queryBytes('www.example.test.', 1, { id: 0 }))}`]);
      assert.equal(get.status, 200);
      assert.equal(get.version, label === 'HTTP/2' ? 'HTTP/2' : 'HTTP/1.1');
      assert.equal(get.headers.get('content-type'), 'application/dns-message');
      assert.equal(get.headers.get('cache-control'), 'max-age=120');
      const answer = decodeMessage(get.body)!;
      assert.equal(answer.id, 0);
      assert.deepEqual(answer.answer.map((record) => [...record.rdata].join('.')).sort(), ['192.0.2.7', '192.0.2.8']);

      const posted = await curl(running.dir, [version, ...tlsArgs(), '-H', 'content-type: application/dns-message', https], (queryBytes('short.example.test.', 1, { id: 0 })));
      assert.equal(posted.status, 200);
      assert.equal(posted.headers.get('content-type'), 'application/dns-message');
      assert.equal(posted.headers.get('cache-control'), 'max-age=30');
      assert.deepEqual(decodeMessage(posted.body)!.answer.map((record) => [...record.rdata].join('.')), ['192.0.2.9']);

      // a negative answer: cacheable for the SOA's negative TTL (RFC 2308), still a 200
      const missing = await curl(running.dir, [version, ...tlsArgs(), `${https}?dns=${b64url(queryBytes('nope.example.test.', 1, { id: 0 }))}`]);
      assert.equal(missing.status, 200);
      const negative = decodeMessage(missing.body)!;
      assert.equal(negative.rcode, 3);
      assert.equal(negative.authority.length, 1);
      assert.equal(missing.headers.get('cache-control'), `max-age=${negative.authority[0].ttl}`);
      assert.ok(negative.authority[0].ttl <= 60);
    });

    it(`${label}: malformed or unsupported requests are refused (400, 405, 415, 413)`, async () => {
      const bad = async (args: string[], status: number, body?: Buffer): Promise<void> => {
        const result = await curl(running.dir, [version, ...tlsArgs(), ...args], body);
        assert.equal(result.status, status, `${args.join(' ')} → ${result.status}`);
        assert.notEqual(result.headers.get('content-type'), 'application/dns-message');
      };
      await bad([https], 400); // no ?dns=
      await bad([`${https}?dns=!!!not-base64url`], 400);
      await bad([`${https}?dns=AAAA`], 400); // 3 bytes: shorter than a DNS header
      const response = queryBytes('www.example.test.', 1);
      response[2] |= 0x80; // QR set: a response, not a query
      await bad([`${https}?dns=${b64url(response)}`], 400);
      await bad(['-X', 'PUT', https], 405, Buffer.from('x'));
      await bad(['-H', 'content-type: text/plain', https], 415, queryBytes('www.example.test.', 1));
      await bad(['-H', 'content-type: application/dns-message', https], 400, Buffer.from('short'));
      if (label === 'HTTP/1.1') await bad(['-H', 'content-type: application/dns-message', https], 413, Buffer.alloc(70_000));
      else {
        // the 413 comes while the body is still going up, then RST_STREAM(NO_ERROR) (RFC 9113 8.1), which
        // curl sometimes reports as a framing error: node:http2 reads the answer as the RFC means it
        assert.equal(await h2Post(https, Buffer.alloc(70_000), await readFile(fixtures.caFile)), 413);
      }
      const allow = await curl(running.dir, [version, ...tlsArgs(), '-X', 'DELETE', https]);
      assert.equal(allow.headers.get('allow'), 'GET, POST');
      // the pool route beside it still proxies
      const proxied = await curl(running.dir, [version, ...tlsArgs(), `https://localhost:${running.ready.listeners.edge.port}/else`]);
      assert.equal(proxied.body.toString(), 'from the pool');
    });
  }

  it('h2c (HTTP/2 prior knowledge): GET and POST', async () => {
    const get = await curl(running.dir, ['--http2-prior-knowledge', `${h2c}?dns=${b64url(queryBytes('www.example.test.', 1, { id: 0 }))}`]);
    assert.equal(get.status, 200);
    assert.equal(get.version, 'HTTP/2');
    assert.equal(decodeMessage(get.body)!.answer.length, 2);
    const posted = await curl(running.dir, ['--http2-prior-knowledge', '-H', 'content-type: application/dns-message', h2c], (queryBytes('short.example.test.', 1, { id: 0 })));
    assert.equal(posted.status, 200);
    assert.equal(posted.headers.get('cache-control'), 'max-age=30');
  });
});

/** Writes `parts` to a fresh connection, each after the previous one was flushed; resolves with everything read until close. */
function rawExchange(port: number, parts: (string | Buffer)[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.once('error', reject);
    socket.once('close', () => resolve(received));
    const next = (index: number): void => {
      if (index < parts.length) socket.write(parts[index], () => next(index + 1));
    };
    socket.once('connect', () => next(0));
  });
}

describe('dns over https on HTTP/1.1: bodies in pieces, chunked, slow', () => {
  let running: RunningSwitchyard;
  let port: number;
  before(async () => {
    running = await runSwitchyard(`listeners:
  - name: web
    listen: 127.0.0.1:0
    timeouts: { body: 300ms }
    routes:
      - match: { path: /dns-query }
        dns: {}
dns:
  listen: [udp://127.0.0.1:0]
  zones:
    - origin: example.test.
      soa: { mname: ns1.example.test., rname: hostmaster.example.test. }
      records:
        - { name: www, type: A, value: 192.0.2.7, ttl: 120 }
`);
    port = running.ready.listeners.web.port;
  });
  after(() => running?.stop());

  const head = (length: number, close = true): string =>
    `POST /dns-query HTTP/1.1\r\nhost: doh.test\r\ncontent-type: application/dns-message\r\ncontent-length: ${length}\r\n${close ? 'connection: close\r\n' : ''}\r\n`;

  it('a body sent in several writes is answered once whole; a second request on the connection works', async () => {
    const message = queryBytes('www.example.test.', 1, { id: 0 });
    const second = `GET /dns-query?dns=${b64url(message)} HTTP/1.1\r\nhost: doh.test\r\nconnection: close\r\n\r\n`;
    const response = await rawExchange(port, [head(message.length, false), message.subarray(0, 5), message.subarray(5), second]);
    const answers = response.split('HTTP/1.1 ').slice(1);
    assert.equal(answers.length, 2, response);
    for (const answer of answers) {
      assert.match(answer, /^200 OK\r\n/);
      assert.match(answer, /\r\ncontent-type: application\/dns-message\r\n/);
      assert.match(answer, /\r\ncache-control: max-age=120\r\n/);
    }
  });

  it('a chunked POST is refused with 411 (a DNS message has a length)', async () => {
    const response = await rawExchange(port, [`POST /dns-query HTTP/1.1\r\nhost: doh.test\r\ncontent-type: application/dns-message\r\ntransfer-encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n`]);
    assert.match(response, /^HTTP\/1.1 411 Length Required\r\n/);
  });

  it('a body that stops coming gets 408 after timeouts.body', async () => {
    const response = await rawExchange(port, [head(40), Buffer.alloc(10)]);
    assert.match(response, /^HTTP\/1.1 408 Request Timeout\r\n/);
  });

  it('other methods get 405 with Allow: GET, POST', async () => {
    const response = await rawExchange(port, [`DELETE /dns-query HTTP/1.1\r\nhost: doh.test\r\nconnection: close\r\n\r\n`]);
    assert.match(response, /^HTTP\/1.1 405 Method Not Allowed\r\n/);
    assert.match(response, /\r\nallow: GET, POST\r\n/);
  });
});

describe('dns over https through the resolver (answers that wait for an upstream)', () => {
  let running: RunningSwitchyard;
  let upstream: TinyDns;
  let token: string;
  before(async () => {
    upstream = await startTinyDns({ zone: 'elsewhere.test', records: [{ name: 'www.elsewhere.test', type: 'A', ttl: 300, data: '198.51.100.7' }, { name: 'api.elsewhere.test', type: 'A', ttl: 40, data: '198.51.100.8' }] });
    running = await runSwitchyard(`workers: 1
admin: { listen: 127.0.0.1:0 }
listeners:
  - name: plain
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
      - match: { path: /dns-query }
        dns: {}
dns:
  listen: [udp://127.0.0.1:0]
  resolver:
    allow: [127.0.0.0/8]
    forward: [127.0.0.1:${upstream.port}]
`);
    token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
  });
  after(async () => {
    await running?.stop();
    await upstream?.close();
  });

  const metric = async (series: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${running.ready.admin!.port}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    return Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  it('HTTP/2 and HTTP/1.1: the first query goes upstream, the answer comes back as DoH, counted under tcp', async () => {
    const url = `http://127.0.0.1:${running.ready.listeners.plain.port}/dns-query`;
    const before = await metric('switchyard_dns_queries_total{transport="tcp",type="A"}');
    const h2 = await curl(running.dir, ['--http2-prior-knowledge', `${url}?dns=${b64url(queryBytes('www.elsewhere.test.', 1, { id: 0 }))}`]);
    assert.equal(h2.status, 200);
    assert.equal(h2.headers.get('cache-control'), 'max-age=300');
    assert.deepEqual(decodeMessage(h2.body)!.answer.map((record) => [...record.rdata].join('.')), ['198.51.100.7']);
    // h2c listeners take HTTP/1.1 too: the same route, through the HTTP/1.1 exchange
    const h1 = await curl(running.dir, ['--http1.1', '-H', 'content-type: application/dns-message', url], queryBytes('api.elsewhere.test.', 1, { id: 0 }));
    assert.equal(h1.status, 200);
    assert.equal(h1.version, 'HTTP/1.1');
    assert.equal(h1.headers.get('cache-control'), 'max-age=40');
    assert.deepEqual(decodeMessage(h1.body)!.answer.map((record) => [...record.rdata].join('.')), ['198.51.100.8']);
    assert.deepEqual(upstream.queries.map((query) => query.name).sort(), ['api.elsewhere.test', 'www.elsewhere.test']);
    assert.equal((await metric('switchyard_dns_queries_total{transport="tcp",type="A"}')) - before, 2);
  });
});
