// jwt, forward_auth and waf from a config file: their settings load with defaults, refusals name file,
// line and field, and the loaded settings are plain data that survive the trip to a worker (v8
// serialisation) unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize, serialize } from 'node:v8';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { loadConfigFile, parseConfigText } from './index.ts';

const config = (middleware: string) => `pools:
  web:
    backends: [ { address: 127.0.0.1:3001 } ]
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    routes:
      - match: { path_prefix: / }
        pool: web
        middleware:
${middleware}
`;

function refused(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseConfigText(text, 'edge.yaml', '/tmp'),
    (err: Error) => {
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('access filters load with their defaults, as plain data', () => {
  const loaded = parseConfigText(
    config(`          - waf: { builtin: [sqli, scanners], deny: [10.0.0.0/8], rules: [ { id: no-debug, query: "debug=1" } ] }
          - jwt: { jwks_url: "https://id.example.test/.well-known/jwks.json", audience: orders, forward_claims: { sub: X-User-Id } }
          - forward_auth: { url: "http://127.0.0.1:9000/auth", copy_headers: [X-User] }`),
    'edge.yaml',
    '/tmp',
  );
  const [waf, jwt, forwardAuth] = loaded.config.listeners[0].routes![0].middleware!;
  assert.deepEqual(waf, { name: 'waf', settings: { mode: 'block', builtin: ['sqli', 'scanners'], deny: ['10.0.0.0/8'], rules: [{ id: 'no-debug', action: 'block', query: 'debug=1' }] } });
  assert.equal(jwt.name, 'jwt');
  assert.deepEqual((jwt.settings as { audience: string[] }).audience, ['orders']);
  assert.deepEqual((jwt.settings as { forward_claims: object }).forward_claims, { sub: 'x-user-id' });
  assert.equal((jwt.settings as { clock_tolerance: number }).clock_tolerance, 30_000);
  assert.deepEqual(forwardAuth.settings, { url: 'http://127.0.0.1:9000/auth', method: 'GET', request_headers: ['authorization', 'cookie'], copy_headers: ['x-user'], timeout: 5_000, max_body_size: 65_536, max_connections: 64 });
  const middleware = loaded.config.listeners[0].routes![0].middleware!;
  assert.deepEqual(deserialize(serialize(middleware)), middleware);
});

test('access filter refusals name the file, line and field', () => {
  refused(config('          - jwt: { audience: orders }'), /^edge\.yaml:12:\d+: listeners\[0\]\.routes\[0\]\.middleware\[0\]\.jwt: expected exactly one of keys_file, jwks_url or secret_file, got none/);
  refused(config('          - jwt: { keys_file: keys.json, algorithms: [none] }'), /middleware\[0\]\.jwt\.algorithms\[0\]: expected algorithms among .*never none/);
  refused(config('          - forward_auth: { url: "ftp://auth.test/" }'), /middleware\[0\]\.forward_auth\.url: expected an http:\/\/ or https:\/\/ URL/);
  refused(config('          - forward_auth: { url: "http://auth.test/", copy_headers: [host] }'), /forward_auth\.copy_headers\[0\]: expected a header the edge does not own/);
  refused(config('          - waf: { rules: [ { id: slow, path: "(a+)+$" } ] }'), /middleware\[0\]\.waf\.rules\[0\]\.path: expected a pattern without nested or overlapping repetition/);
  refused(config('          - waf: { mode: log }'), /middleware\[0\]\.waf\.mode/);
  refused(config('          - waf: { deny: [not-an-address] }'), /middleware\[0\]\.waf\.deny\[0\]: expected an address or CIDR/);
});

test('check reads the files the filters name as the filters will: keys, secret, CA', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-access-files-'));
  try {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(path.join(dir, 'public.pem'), publicKey.export({ format: 'pem', type: 'spki' }));
    await writeFile(path.join(dir, 'private.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
    await writeFile(path.join(dir, 'short.secret'), 'short\n');
    await writeFile(path.join(dir, 'not-a-ca.pem'), 'hello\n');
    const write = async (middleware: string) => {
      const file = path.join(dir, 'edge.yaml');
      await writeFile(file, config(middleware));
      return file;
    };
    await loadConfigFile(await write('          - jwt: { keys_file: public.pem }'));
    const refusedFile = async (middleware: string, pattern: RegExp) => {
      const file = await write(middleware);
      await assert.rejects(loadConfigFile(file), (err: Error) => {
        assert.match(err.message, pattern);
        return true;
      });
    };
    await refusedFile('          - jwt: { keys_file: missing.json }', /edge\.yaml:12:\d+: listeners\[0\]\.routes\[0\]\.middleware\[0\]\.jwt\.keys_file: expected a readable key file, got .*missing\.json: ENOENT/);
    await refusedFile('          - jwt: { keys_file: private.pem }', /middleware\[0\]\.jwt\.keys_file: expected public keys, got .*private\.pem holding a PRIVATE KEY/);
    await refusedFile('          - jwt: { secret_file: short.secret }', /middleware\[0\]\.jwt\.secret_file: expected a secret of at least 32 bytes, got 5/);
    await refusedFile('          - forward_auth: { url: "https://auth.test/", ca_file: not-a-ca.pem }', /middleware\[0\]\.forward_auth\.ca_file: expected PEM CA certificates, got .*not-a-ca\.pem, which holds none/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
