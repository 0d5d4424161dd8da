// `switchyard check` refuses exactly what `switchyard start` refuses, with the same `file:line:col: field:
// why` lines: keys that would validate and do nothing, addresses the edge would bind twice, a static root
// that is not there, and an admin API that is not private (off loopback without allow_remote and TLS, a
// token file others can read, a short token). Real processes of both commands on the same config files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cliEntry, node24, runSwitchyard } from '../../support/run-switchyard.ts';

const run = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], cwd: string): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(node24, [cliEntry, ...args], { cwd, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout: string; stderr: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function withConfig(yaml: string, use: (file: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-check-'));
  try {
    const file = path.join(dir, 'edge.yaml');
    await writeFile(file, yaml);
    await use(file, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** check and start both exit 1 with the same message, whose first line matches `expected`. */
async function assertRefused(yaml: string, expected: RegExp, prepare?: (dir: string) => Promise<void>): Promise<string> {
  let message = '';
  await withConfig(yaml, async (file, dir) => {
    await prepare?.(dir);
    const checked = await cli(['check', file], dir);
    assert.equal(checked.code, 1, `check accepted it:\n${checked.stdout}${checked.stderr}`);
    assert.match(checked.stderr, expected);
    const started = await cli(['start', '-c', file], dir);
    assert.equal(started.code, 1, `start did not refuse it:\n${started.stderr}`);
    assert.equal(started.stderr, checked.stderr, 'start and check give the same reasons');
    message = checked.stderr;
  });
  return message;
}

/** A TCP port free right now (for configs that are refused before anything binds). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const pool = `pools:
  app: { backends: [ { address: 127.0.0.1:9 } ] }
`;

test('check and start refuse forward_proxy keys that would do nothing, and a password file that is not one', async () => {
  await assertRefused(
    `${pool}listeners:\n  - name: proxy\n    listen: 127.0.0.1:0\n    protocol: forward_proxy\n    pool: app\n`,
    /edge\.yaml:7:\d+: listeners\[0\]\.pool: expected no pool on a forward_proxy listener \(the destination is the request's own URI or CONNECT target\)/,
  );
  await assertRefused(
    `listeners:\n  - name: proxy\n    listen: 127.0.0.1:0\n    protocol: forward_proxy\n    timeouts: { body_total: 5s }\n`,
    /listeners\[0\]\.timeouts\.body_total: expected only header, idle, body, upstream_connect, upstream_response, tunnel_idle, proxy_protocol in timeouts of a forward_proxy listener, got body_total/,
  );
  await assertRefused(`${pool}listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    routes: [ { pool: app } ]\n    anonymous: true\n`, /listeners\[0\]\.anonymous: expected anonymous only on a forward_proxy listener, got protocol: http/);
  await assertRefused(
    `listeners:\n  - name: proxy\n    listen: 127.0.0.1:0\n    protocol: forward_proxy\n    allow: { ports: ["9000-8000"], destinations: [10.0.0.0/8], private: true }\n`,
    /listeners\[0\]\.allow\.ports\[0\]: expected a port \(1-65535\), a range like "8000-8999" or "\*", got "9000-8000"/,
  );
  const message = await assertRefused(
    `listeners:\n  - name: proxy\n    listen: 127.0.0.1:0\n    protocol: forward_proxy\n    proxy_auth: { file: users.passwd }\n`,
    /users\.passwd:2: expected user:\$scrypt\$ln=10\.\.20,r=R,p=P\$salt\$key \(switchyard passwd USER makes one\), got user "bob" with a hash in another form/,
    (dir) => writeFile(path.join(dir, 'users.passwd'), '# users\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n'),
  );
  assert.doesNotMatch(message, /bob:\{SHA\}W6ph5Mm5Pz8GgiULbPgzG37mj9g=/, 'a password hash is not printed whole');
});

test('check and start refuse a listener on the admin API\'s address, two listeners on one address, and one on the DNS address', async () => {
  const port = await freePort();
  await assertRefused(
    `admin: { listen: 127.0.0.1:${port} }\n${pool}listeners:\n  - name: web\n    listen: 127.0.0.1:${port}\n    routes: [ { pool: app } ]\n`,
    new RegExp(`edge\\.yaml:1:18: admin\\.listen: expected a free address, got tcp 127\\.0\\.0\\.1:${port}, already bound by listeners\\[0\\] \\(web\\)`),
  );
  await assertRefused(
    `${pool}listeners:\n  - { name: a, listen: 127.0.0.1:${port}, routes: [ { pool: app } ] }\n  - { name: b, listen: 0.0.0.0:${port}, protocol: tcp, pool: app }\n`,
    new RegExp(`edge\\.yaml:5:24: listeners\\[1\\]\\.listen: expected a free address, got tcp 0\\.0\\.0\\.0:${port}, already bound by listeners\\[0\\] \\(a\\)`),
  );
  await assertRefused(
    `${pool}listeners:\n  - { name: a, listen: 127.0.0.1:${port}, protocol: tcp, pool: app }\ndns:\n  listen: [udp://127.0.0.1:${port}, tcp://127.0.0.1:${port}]\n  zones: []\n`,
    new RegExp(`edge\\.yaml:6:\\d+: dns\\.listen\\[1\\]: expected a free address, got tcp 127\\.0\\.0\\.1:${port}, already bound by listeners\\[0\\] \\(a\\)`),
  );
});

test('check accepts tls on an HTTP/1.1 pool; check and start refuse it on an h2c pool, a tls.ca that is not PEM, and proxy_protocol on an http listener', async () => {
  await withConfig(`pools:\n  app:\n    backends: [ { address: 127.0.0.1:9 } ]\n    tls: { servername: app.internal, verify: false }\nlisteners:\n  - { name: web, listen: 127.0.0.1:0, routes: [ { pool: app } ] }\n`, async (file, dir) => {
    const checked = await cli(['check', file], dir);
    assert.equal(checked.code, 0, checked.stderr);
  });
  await assertRefused(
    `pools:\n  app:\n    protocol: h2c\n    backends: [ { address: 127.0.0.1:9 } ]\n    tls: { verify: false }\nlisteners:\n  - { name: web, listen: 127.0.0.1:0, routes: [ { pool: app } ] }\n`,
    /edge\.yaml:5:10: pools\.app\.tls: expected no tls on an h2c pool \(h2c is HTTP\/2 in cleartext\)/,
  );
  await assertRefused(
    `pools:\n  app:\n    backends: [ { address: 127.0.0.1:9 } ]\n    tls: { ca: ca.pem }\nlisteners:\n  - { name: web, listen: 127.0.0.1:0, routes: [ { pool: app } ] }\n`,
    /edge\.yaml:4:16: pools\.app\.tls\.ca: expected PEM CA certificates, got \S+ca\.pem, which holds none/,
    (dir) => writeFile(path.join(dir, 'ca.pem'), 'not a certificate\n'),
  );
  await assertRefused(
    `${pool}listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    proxy_protocol: v2\n    routes: [ { pool: app } ]\n`,
    /edge\.yaml:6:21: listeners\[0\]\.proxy_protocol: expected proxy_protocol only on a tcp listener, got protocol: http/,
  );
});

test('check and start refuse a route an earlier catch-all always takes first', async () => {
  await assertRefused(
    `${pool}listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
      - name: everything
        match: { path_prefix: / }
        pool: app
      - match: { host: api.example.test, path_prefix: /api }
        respond: { status: 404 }
`,
    /edge\.yaml:10:16: listeners\[0\]\.routes\[1\]\.match: expected a route that can match, got one shadowed by routes\[0\] \(everything\), which matches path_prefix: "\/" first \(first match wins/,
  );
});

test('YAML syntax: a tab indent is reported at the tab, a repeated key names itself and its first line', async () => {
  await assertRefused('pools:\n  p:\n\tbalance: round_robin\n', /edge\.yaml:3:1: yaml: Tabs are not allowed as indentation \(indent with spaces\)/);
  await assertRefused('workers: 1\nlog: { level: info }\nworkers: 2\n', /edge\.yaml:3:1: yaml: Map keys must be unique \(key workers is already at line 1\)/);
});

test('check and start refuse a static root that does not exist', async () => {
  await assertRefused(
    `listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    routes:\n      - static: { root: ./site }\n`,
    /edge\.yaml:5:25: listeners\[0\]\.routes\[0\]\.static\.root: expected a directory to serve, got \/\S+\/site: ENOENT/,
  );
});

test('admin off loopback: refused without allow_remote, refused without tls, served over HTTPS with both (and reload uses it)', async () => {
  await assertRefused('admin: { listen: 0.0.0.0:0 }\n', /edge\.yaml:1:18: admin\.listen: expected a loopback address \(127\.0\.0\.1, ::1\) unless allow_remote: true, got 0\.0\.0\.0:0/);
  await assertRefused('admin: { listen: 0.0.0.0:0, allow_remote: true }\n', /edge\.yaml:1:\d+: admin\.tls: expected tls \(cert and key\) for an admin API reachable from other hosts, got none/);

  const certs = await mkdtemp(path.join(tmpdir(), 'switchyard-admin-tls-'));
  try {
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'admin.key', '-out', 'admin.pem', '-days', '2', '-subj', '/CN=switchyard admin', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: certs, timeout: 20_000 });
    const cert = path.join(certs, 'admin.pem');
    const edge = await runSwitchyard(`admin:\n  listen: 0.0.0.0:0\n  allow_remote: true\n  tls: { cert: ${cert}, key: ${path.join(certs, 'admin.key')} }\n`, { args: ['--workers', '0'] });
    try {
      const token = (await readFile(path.join(edge.dir, 'data', 'admin.token'), 'utf8')).trim();
      const url = `https://127.0.0.1:${edge.ready.admin!.port}/api/status`;
      // lower-case scheme name: RFC 9110 §11.1 makes it case-insensitive
      const ok = await run('curl', ['-sS', '--cacert', cert, '-H', `authorization: bearer ${token}`, '-w', '\n%{http_code}', url], { timeout: 20_000 });
      assert.match(ok.stdout, /"workers": 0[\s\S]*\n200$/);
      const wrong = await run('curl', ['-sS', '--cacert', cert, '-H', 'Authorization: Bearer nope', '-o', '/dev/null', '-w', '%{http_code}', url], { timeout: 20_000 });
      assert.equal(wrong.stdout, '401');
      const plain = await run('curl', ['-sS', `http://127.0.0.1:${edge.ready.admin!.port}/healthz`], { timeout: 20_000 }).catch((err: { code: number }) => err);
      assert.equal((plain as { code?: number }).code, 52, 'plain HTTP to the HTTPS port gets no answer');
      // switchyard reload reaches it over HTTPS, trusting exactly the configured certificate
      const reloaded = await cli(['reload', '-c', edge.configFile], edge.dir);
      assert.equal(reloaded.code, 0, reloaded.stderr);
      assert.equal(reloaded.stdout, `reloaded: the edge (pid ${edge.process.pid}) runs ${edge.configFile}\n`);
    } finally {
      await edge.stop();
    }
  } finally {
    await rm(certs, { recursive: true, force: true });
  }
});

test('admin token: a generated file is 0600 with 32 random bytes; a group-readable or short one is refused', async () => {
  const edge = await runSwitchyard('admin: { listen: 127.0.0.1:0 }\n', { args: ['--workers', '0'] });
  try {
    const file = path.join(edge.dir, 'data', 'admin.token');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.match((await readFile(file, 'utf8')).trim(), /^[0-9a-f]{64}$/);
  } finally {
    await edge.stop();
  }

  const writeToken = (token: string, mode: number) => async (dir: string): Promise<void> => {
    await mkdir(path.join(dir, 'data'));
    const file = path.join(dir, 'data', 'admin.token');
    await writeFile(file, `${token}\n`, { mode });
    await chmod(file, mode);
  };
  await assertRefused('admin: { listen: 127.0.0.1:0 }\n', /edge\.yaml:1:8: admin\.token_file: \/\S+\/data\/admin\.token is accessible by group or others \(mode 0644\): chmod 600/, writeToken('x'.repeat(64), 0o644));
  await assertRefused(
    'admin:\n  listen: 127.0.0.1:0\n  token_file: short.token\n',
    /edge\.yaml:3:15: admin\.token_file: \/\S+\/data\/short\.token holds a 16-byte token, expected at least 32 bytes/,
    async (dir) => {
      await mkdir(path.join(dir, 'data'));
      await writeFile(path.join(dir, 'data', 'short.token'), '0123456789abcdef\n', { mode: 0o600 });
    },
  );
});

test('a YAML indentation error is reported at the misplaced key, naming where its block began, not at the blank line above', async () => {
  const demo = await readFile(path.join(import.meta.dirname, '..', '..', '..', 'demo', 'switchyard.yaml'), 'utf8');
  const lines = demo.split('\n');
  // The demo's users pool, its first item, and the blank line before the next pool: the shape of the report
  // (an item of the users block mis-indented, reported at the blank line after the block).
  const users = lines.indexOf('  users:');
  assert.ok(users > 0, 'the demo config has a users pool');
  const blank = lines.indexOf('', users);
  assert.ok(blank > users + 1 && lines[blank + 1].startsWith('  '), 'and a blank line before its next pool');
  lines[users] = ' users:';
  await withConfig(lines.join('\n'), async (file, dir) => {
    const checked = await cli(['check', file], dir);
    assert.equal(checked.code, 1);
    const item = new RegExp(`edge\\.yaml:${blank + 2}:3: yaml: All mapping items must start at the same column \\(this item is at column 3; the first item of its block, line ${users + 1}, is at column 2\\)`);
    assert.match(checked.stderr, item);
    assert.doesNotMatch(checked.stderr, new RegExp(`:${blank + 1}:1:`));
  });
});

test('check lists each route\'s middleware in run order, and check and start refuse an unknown filter with the known ones', async () => {
  const listener = (middleware: string) => `${pool}listeners:
  - name: web
    listen: 127.0.0.1:0
    middleware: [ { headers: { response: { set: { x-edge: a } } } } ]
    routes:
      - { name: api, match: { path_prefix: /api }, pool: app, middleware: [ ${middleware} ] }
      - { name: rest, pool: app }
`;
  await withConfig(listener('{ headers: { request: { set: { x-client: "{client_ip}" } } } }'), async (file, dir) => {
    const checked = await cli(['check', file], dir);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /^ {4}route api: middleware headers → headers$/m);
    assert.match(checked.stdout, /^ {4}route rest: middleware headers$/m);
    // the edge's own filters run ahead of them, and check says so
    assert.match(checked.stdout, /^ {4}built-in filters: forwarded → request_id → trace_context → hide_headers \(before each proxied route's middleware\)$/m);
  });
  await assertRefused(listener('{ quota: {} }'), /edge\.yaml:8:\d+: listeners\[0\]\.routes\[0\]\.middleware\[0\]\.quota: unknown filter quota: expected one of headers, /);
  // a known filter without its required settings is refused at the missing key
  await assertRefused(listener('{ rate_limit: {} }'), /edge\.yaml:8:\d+: listeners\[0\]\.routes\[0\]\.middleware\[0\]\.rate_limit\.rate: /);
});
