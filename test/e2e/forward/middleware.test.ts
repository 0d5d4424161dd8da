// A forward proxy's `middleware` through the real process, driven by curl -x against a counting origin:
// the shared cache (hits answered without the origin, Cache-Status and Age, private responses not stored,
// a stale copy when the origin is gone, purge through the admin API), header rewriting both ways, a rate
// limit's 429, compression chunked to HTTP/1.1 and until close to HTTP/1.0; CONNECT tunnels untouched; and
// `switchyard check` refusing the filters a forward proxy cannot run.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runSwitchyard, node24, cliEntry, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { curlText } from '../../support/curl-text.ts';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** Requests the origin saw, per URL; the request headers of the last one. */
const seen = new Map<string, number>();
const lastHeaders = new Map<string, http.IncomingHttpHeaders>();
let origin: http.Server;
let originPort: number;
let edge: RunningSwitchyard;
let token: string;

/** `switchyard check` on a config file holding `yaml`. */
async function checkConfig(yaml: string): Promise<{ code: number; stderr: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-forward-check-'));
  try {
    await writeFile(path.join(dir, 'switchyard.yaml'), yaml);
    return await new Promise((resolve) =>
      execFile(node24, [cliEntry, 'check', path.join(dir, 'switchyard.yaml')], (err, _stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code) : 0, stderr })),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const proxy = (listener: string) => `http://127.0.0.1:${edge.ready.listeners[listener].port}`;
const url = (pathname: string) => `http://127.0.0.1:${originPort}${pathname}`;

before(async () => {
  origin = http.createServer((req, res) => {
    const n = (seen.get(req.url!) ?? 0) + 1;
    seen.set(req.url!, n);
    lastHeaders.set(req.url!, req.headers);
    const kind = req.url!.split('/')[1];
    const text = (headers: Record<string, string>, body: string) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)), 'x-internal': 'secret', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (kind === 'fresh') return text({ 'cache-control': 'max-age=60', etag: '"f1"' }, `fresh ${req.url} #${n}`);
    if (kind === 'private') return text({ 'cache-control': 'private, max-age=60' }, `private #${n}`);
    if (kind === 'stale') return text({ 'cache-control': 'max-age=1, stale-if-error=60' }, `stale #${n}`);
    if (kind === 'text') {
      // chunked from the origin: the proxy decodes it for the transform
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(`${'compressible line of text\n'.repeat(400)}#${n}\n`);
    }
    text({}, `plain #${n}`);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originPort = (origin.address() as net.AddressInfo).port;
  cleanups.push(() => new Promise((resolve) => origin.close(resolve)));
  origin.on('connection', (socket) => cleanups.push(async () => socket.destroy()));

  const allow = `allow: { clients: [127.0.0.0/8], hosts: [127.0.0.1], ports: ["1024-65535"], destinations: [127.0.0.0/8] }`;
  edge = await runSwitchyard(`
workers: 1
admin: { listen: 127.0.0.1:0 }
listeners:
  - name: cached
    listen: 127.0.0.1:0
    protocol: forward_proxy
    ${allow}
    middleware:
      - headers: { request: { set: { x-egress: "{client_ip}" } }, response: { remove: [x-internal] } }
      - cache: { max_size: 1mb }
  - name: limited
    listen: 127.0.0.1:0
    protocol: forward_proxy
    ${allow}
    middleware: [ { rate_limit: { key: ip, rate: 2/h, burst: 2 } } ]
  - name: gz
    listen: 127.0.0.1:0
    protocol: forward_proxy
    ${allow}
    middleware: [ { compress: { encodings: [gzip], min_size: 1kb } } ]
`);
  cleanups.push(() => edge.stop());
  token = (await readFile(path.join(edge.dir, 'data', 'admin.token'), 'utf8')).trim();
});

test('shared cache: a hit is answered without the origin, with Age and Cache-Status; the access log says why', async () => {
  const first = await curlText(['-x', proxy('cached')], url('/fresh/a'), []);
  assert.equal(first.status, 200);
  assert.equal(first.body, 'fresh /fresh/a #1');
  assert.equal(first.headers['cache-status'], 'Switchyard; fwd=uri-miss; fwd-status=200; stored');
  const second = await curlText(['-x', proxy('cached')], url('/fresh/a'), []);
  assert.equal(second.body, 'fresh /fresh/a #1');
  assert.match(second.headers['cache-status'], /^Switchyard; hit; ttl=(59|60)$/);
  assert.match(second.headers.age, /^[01]$/);
  assert.match(second.headers.via, /^1\.1 cached \(switchyard\)$/);
  assert.equal(seen.get('/fresh/a'), 1, 'the hit never reached the origin');
  const line = await edge.waitForLine((l) => l.listener === 'cached' && l.path === '/fresh/a' && typeof l.reason === 'string' && String(l.reason).startsWith('cache:'));
  assert.equal(line.status, 200);
  // the client's own validator matches the stored ETag: 304 without a body or a Content-Length
  const revalidated = await curlText(['-x', proxy('cached')], url('/fresh/a'), ['If-None-Match: "f1"']);
  assert.equal(revalidated.status, 304);
  assert.equal(revalidated.headers['content-length'], undefined);
  assert.equal(seen.get('/fresh/a'), 1);
});

test('pipelined requests: a hit, a miss and a hit on one connection are answered in order', async () => {
  await curlText(['-x', proxy('cached')], url('/fresh/pipe'), []);
  const port = edge.ready.listeners.cached.port;
  const get = (pathname: string) => `GET ${url(pathname)} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n\r\n`;
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      text += chunk;
      if ((text.match(/HTTP\/1\.1 200/g) ?? []).length === 3 && text.endsWith('fresh /fresh/pipe #1')) socket.end();
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`timed out after: ${text}`)));
    socket.on('close', () => resolve(text));
    socket.write(get('/fresh/pipe') + get('/plain/pipe') + get('/fresh/pipe'));
  });
  const bodies = answer.split(/\r\n\r\n/).slice(1).map((part) => part.split('HTTP/1.1')[0]);
  assert.deepEqual(bodies, ['fresh /fresh/pipe #1', `plain #${seen.get('/plain/pipe')}`, 'fresh /fresh/pipe #1']);
  assert.equal(seen.get('/fresh/pipe'), 1);
});

test('shared cache: private responses are not stored; purge through the admin API sends the next request to the origin', async () => {
  await curlText(['-x', proxy('cached')], url('/private/p'), []);
  const again = await curlText(['-x', proxy('cached')], url('/private/p'), []);
  assert.equal(again.body, 'private #2');
  assert.equal(seen.get('/private/p'), 2);

  await curlText(['-x', proxy('cached')], url('/fresh/purged'), []);
  const purge = await fetch(`http://127.0.0.1:${edge.ready.admin!.port}/api/cache/purge`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ url: url('/fresh/purged') }) });
  assert.equal(purge.status, 200);
  assert.deepEqual(await purge.json(), { purged: 1 });
  const after = await curlText(['-x', proxy('cached')], url('/fresh/purged'), []);
  assert.equal(after.body, 'fresh /fresh/purged #2');
});

test('headers: the request gains x-egress, the response loses x-internal; both on hits too', async () => {
  const reply = await curlText(['-x', proxy('cached')], url('/plain/h'), []);
  assert.equal(reply.body, 'plain #1');
  assert.equal(lastHeaders.get('/plain/h')!['x-egress'], '127.0.0.1');
  assert.equal(reply.headers['x-internal'], undefined);
  const hit = await curlText(['-x', proxy('cached')], url('/fresh/a'), []);
  assert.match(hit.headers['cache-status'], /hit/);
  assert.equal(hit.headers['x-internal'], undefined, 'the stored copy was stored without it');
});

test('shared cache: a stale copy is served when the origin is gone (stale-if-error), with both reasons logged', async () => {
  const first = await curlText(['-x', proxy('cached')], url('/stale/s'), []);
  assert.equal(first.body, 'stale #1');
  // past max-age=1, and the origin refuses connections
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const port = originPort;
  await new Promise<void>((resolve) => {
    origin.close(() => resolve());
    origin.closeAllConnections();
  });
  try {
    const stale = await curlText(['-x', proxy('cached')], url('/stale/s'), []);
    assert.equal(stale.status, 200);
    assert.equal(stale.body, 'stale #1');
    const line = await edge.waitForLine((l) => l.listener === 'cached' && l.path === '/stale/s' && String(l.reason).includes('cache:stale-if-error'));
    assert.match(String(line.reason), /^connect,cache:stale-if-error$/);
  } finally {
    await new Promise<void>((resolve) => origin.listen(port, '127.0.0.1', resolve));
  }
});

test('rate_limit: the third request within the budget gets 429 with Retry-After, and never reaches the origin', async () => {
  const statuses: number[] = [];
  let last: Awaited<ReturnType<typeof curlText>> | undefined;
  for (let i = 0; i < 3; i++) {
    last = await curlText(['-x', proxy('limited')], url('/plain/limited'), []);
    statuses.push(last.status);
  }
  assert.deepEqual(statuses, [200, 200, 429]);
  assert.match(last!.headers['retry-after'], /^\d+$/);
  assert.equal(seen.get('/plain/limited'), 2);
  const line = await edge.waitForLine((l) => l.listener === 'limited' && l.status === 429);
  assert.equal(line.reason, 'rate_limit:limited');
});

test('compress: gzip chunked to an HTTP/1.1 client, until close to HTTP/1.0; the body decodes to what the origin sent', async () => {
  for (const flags of [[], ['--http1.0']]) {
    const out = await new Promise<Buffer>((resolve, reject) =>
      execFile('curl', ['-sS', '--max-time', '10', '-x', proxy('gz'), ...flags, '-H', 'Accept-Encoding: gzip', '-D', '-', url('/text/z')], { encoding: 'buffer', maxBuffer: 1 << 24 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    const split = out.indexOf('\r\n\r\n');
    const head = out.subarray(0, split).toString('latin1').toLowerCase();
    assert.match(head, /\r\ncontent-encoding: gzip/, flags.join(' '));
    assert.match(head, /\r\nvary: accept-encoding/, flags.join(' '));
    if (flags.length === 0) assert.match(head, /\r\ntransfer-encoding: chunked/);
    else assert.doesNotMatch(head, /transfer-encoding|content-length/);
    const text = gunzipSync(out.subarray(split + 4)).toString();
    assert.ok(text.startsWith('compressible line of text\n') && /#\d+\n$/.test(text), flags.join(' '));
    assert.equal(text.length, 'compressible line of text\n'.length * 400 + `#${seen.get('/text/z')}\n`.length);
  }
});

test('check refuses the filters a forward proxy cannot run, with the reason', async () => {
  const listener = (middleware: string) => `listeners:
  - name: egress
    listen: 127.0.0.1:0
    protocol: forward_proxy
    middleware: [ ${middleware} ]
`;
  const cases: [string, RegExp][] = [
    ['{ cors: { origins: ["https://a.test"] } }', /listeners\[0\]\.middleware\[0\]\.cors: expected no cors in a forward_proxy listener's middleware \(CORS answers for an origin/],
    ['{ basic_auth: { users_file: x.htpasswd } }', /middleware\[0\]\.basic_auth: expected no basic_auth .*proxy_auth/],
    ['{ waf: { builtin: [sqli], body: { inspect_size: 8kb } } }', /middleware\[0\]\.waf\.body: expected no waf body inspection on a forward_proxy listener/],
  ];
  for (const [middleware, message] of cases) {
    const result = await checkConfig(listener(middleware));
    assert.notEqual(result.code, 0, middleware);
    assert.match(result.stderr, message, middleware);
  }
  const ok = await checkConfig(listener('{ cache: {} }, { waf: { builtin: [sqli] } }'));
  assert.equal(ok.code, 0, ok.stderr);
});
