// basic_auth: the users file (bcrypt and scrypt accepted; plaintext, {SHA}, MD5 and crypt refused at load
// with the line), strict parsing of Authorization, 401 with the challenge, Authorization removed upstream
// unless forward, and the verdict cache (one hash per credentials, not one per request).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes, scryptSync } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { basicAuthFilterSchema } from '../../../config/index.ts';
import { FlatWriter, type FilterEnv, type LocalResponse, type RequestVerdict } from '../index.ts';
import { fakeContext, type FakeContext } from '../../../../test/support/filter-kit.ts';
import { basicAuthFilter } from './index.ts';
import { parseBasic } from './credentials.ts';
import { VerdictCache } from './cache.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'basic-auth-'));
const clock = { ms: 0 };
const counts = new Map<string, number>();
const env: FilterEnv = {
  now: () => clock.ms,
  baseDir: dir,
  dataDir: dir,
  scope: 'web',
  shared: (() => {
    const services = new Map<string, unknown>();
    return <T>(key: string, make: () => T): T => (services.has(key) ? (services.get(key) as T) : (services.set(key, make()), services.get(key) as T));
  })(),
  warn: () => {},
  stats: () => ({ count: (event, n = 1) => counts.set(event, (counts.get(event) ?? 0) + n), observe: () => {} }),
};

function context(authorization?: string): FakeContext {
  return fakeContext({ scheme: 'https', routeName: 'admin', headers: authorization === undefined ? {} : { authorization } });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const scryptLine = (password: string): string => {
  const salt = randomBytes(16);
  return `$scrypt$N=16384,r=8,p=1$${salt.toString('base64')}$${scryptSync(password, salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64')}`;
};
const file = (name: string, text: string) => {
  writeFileSync(path.join(dir, name), text);
  return name;
};
const build = (settings: unknown) => basicAuthFilter.create(basicAuthFilterSchema.parse(settings), env);

describe('basic_auth users file', () => {
  it('refuses weak and plaintext hashes with the file and line', () => {
    for (const [line, message] of [
      ['alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', /\{SHA\}.*refused/],
      ['alice:$apr1$abc$def', /Apache MD5/],
      ['alice:$6$salt$hash', /SHA crypt/],
      ['alice:abcdefghijklm', /crypt\(3\) DES/],
      ['alice:secret', /plaintext passwords are refused/],
      ['alice', /expected user:hash/],
    ] as const) {
      assert.throws(() => build({ users_file: file('weak', `# users\n\n${line}\n`) }), (err: Error) => message.test(err.message) && err.message.includes(`${path.join(dir, 'weak')}:3`), line);
    }
    assert.throws(() => build({ users_file: 'missing' }), /cannot read \(ENOENT\)/);
  });
});

describe('basic_auth filter', () => {
  let filter: ReturnType<typeof build>;
  before(() => {
    filter = build({ users_file: file('users', `alice:${bcrypt.hashSync('wonderland', 4)}\nbob:${scryptLine('builder')}\n`), realm: 'ops' });
  });

  it('challenges without credentials and with malformed ones, at once (never throws)', () => {
    for (const header of [undefined, 'Basic', 'Basic !!!!', 'Basic YWxpY2U=', 'Bearer abc', `Basic ${'A'.repeat(2000)}`, 'Basic =abc', `Basic ${Buffer.from([0xff, 0x3a, 0x61]).toString('base64')}`]) {
      const ctx = context(header);
      const answer = filter.onRequest!(ctx) as LocalResponse;
      assert.equal(answer.status, 401, String(header));
      assert.equal(ctx.reason, header === undefined ? 'basic_auth:challenged' : 'basic_auth:malformed');
      assert.deepEqual(answer.headers.slice(0, 2), ['www-authenticate', 'Basic realm="ops", charset="UTF-8"']);
    }
  });

  it('admits bcrypt and scrypt users with the right password, refuses a wrong one or an unknown user', async () => {
    assert.equal(await filter.onRequest!(context(basic('alice', 'wonderland'))), undefined);
    assert.equal(await filter.onRequest!(context(basic('bob', 'builder'))), undefined);
    assert.equal(((await filter.onRequest!(context(basic('alice', 'wrong')))) as LocalResponse).status, 401);
    assert.equal(((await filter.onRequest!(context(basic('mallory', 'x')))) as LocalResponse).status, 401);
    assert.equal(((await filter.onRequest!(context(basic('alice', '')))) as LocalResponse).status, 401);
  });

  it('caches verdicts: a repeat is answered synchronously until the TTL passes', async () => {
    const ok = basic('alice', 'wonderland');
    clock.ms = 10_000_000;
    const first = filter.onRequest!(context(ok));
    assert.ok(first instanceof Promise, 'the first check hashes');
    assert.equal(await first, undefined);
    assert.equal(filter.onRequest!(context(ok)), undefined, 'then synchronous');
    const wrong = basic('alice', 'nope');
    await filter.onRequest!(context(wrong));
    assert.equal((filter.onRequest!(context(wrong)) as LocalResponse).status, 401, 'a failure is cached too');
    clock.ms += 6 * 60_000;
    const expired = filter.onRequest!(context(ok));
    assert.ok(expired instanceof Promise, 'hashed again after the TTL');
    await expired;
  });

  it('concurrent checks of the same credentials share one hash', async () => {
    const again = basic('bob', 'builder');
    clock.ms += 60 * 60_000;
    const before = counts.get('allowed') ?? 0;
    const verdicts = await Promise.all(Array.from({ length: 20 }, () => filter.onRequest!(context(again)) as RequestVerdict | Promise<RequestVerdict>));
    // with at most 8 hashes at once per process, 20 separate checks would have answered some 429
    assert.ok(verdicts.every((verdict) => verdict === undefined));
    assert.equal((counts.get('allowed') ?? 0) - before, 20);
  });

  it('two entries with different users files never share a verdict, even concurrently', async () => {
    const other = build({ users_file: file('others', `alice:${bcrypt.hashSync('another', 4)}\n`) });
    const credentials = basic('alice', 'another');
    clock.ms += 60 * 60_000;
    const [here, there] = await Promise.all([filter.onRequest!(context(credentials)), other.onRequest!(context(credentials))]);
    assert.equal((here as LocalResponse).status, 401);
    assert.equal(there, undefined);
  });

  it('removes Authorization upstream unless forward: true', () => {
    const fields = ['authorization', 'Basic x', 'x-a', '1'];
    filter.onUpstreamRequest!(context(), new FlatWriter(fields));
    assert.deepEqual(fields, ['x-a', '1']);
    assert.equal(build({ users_file: 'users', forward: true }).onUpstreamRequest, undefined);
  });
});

describe('credentials parsing and the cache', () => {
  it('parses RFC 7617 credentials; the password may hold colons', () => {
    assert.deepEqual(parseBasic(basic('alice', 'a:b:c')), { user: 'alice', password: 'a:b:c', token: Buffer.from('alice:a:b:c').toString('base64') });
    assert.equal(parseBasic(`basic ${Buffer.from('a:b').toString('base64')}`)?.user, 'a');
    assert.equal(parseBasic(`Basic ${Buffer.from(':nouser').toString('base64')}`), undefined);
  });

  it('the LRU keeps its capacity and drops the least recently used', () => {
    const cache = new VerdictCache(2);
    cache.set('a', true, 100);
    cache.set('b', true, 100);
    assert.equal(cache.get('a', 0), true);
    cache.set('c', false, 100);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('b', 0), undefined);
    assert.equal(cache.get('a', 0), true);
    assert.equal(cache.get('c', 200), undefined);
  });
});
