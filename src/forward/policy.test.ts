// The forward proxy's compiled policy and password file: host patterns, port ranges, the SSRF address
// rule, the loopback-only default, and scrypt lines as `switchyard passwd` makes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listenerSchema } from '../config/index.ts';
import { ForwardPolicy, isPublicUnicast } from './policy.ts';
import { hashPassword, PasswordFile } from './passwords.ts';
import { portOf } from './authorize.ts';

function policy(allow: unknown): ForwardPolicy {
  return new ForwardPolicy(listenerSchema.parse({ name: 'p', listen: '127.0.0.1:0', protocol: 'forward_proxy', allow }).allow);
}

test('no allow: loopback clients only, any host, port 80, CONNECT 443, public destinations only', () => {
  const p = new ForwardPolicy(undefined);
  assert.equal(p.loopbackOnly, true);
  assert.ok(p.client('127.0.0.5') && p.client('::1') && p.client('::ffff:127.0.0.1'));
  assert.ok(!p.client('192.0.2.1'));
  assert.ok(p.host('anything.test'));
  assert.ok(p.port(80, false) && !p.port(443, false) && !p.port(8080, false));
  assert.ok(p.port(443, true) && !p.port(80, true));
  assert.ok(p.destination('8.8.8.8') && !p.destination('127.0.0.1') && !p.destination('10.0.0.1'));
});

test('host patterns: exact, *.suffix (names below it, not the suffix itself), literals; ports: numbers, ranges, *', () => {
  const p = policy({ clients: ['10.0.0.0/8'], hosts: ['api.example.test', '*.Cdn.Test.', '192.0.2.7', '[2001:db8::1]'], ports: [443, '8000-8999'], connect_ports: ['*'] });
  assert.equal(p.loopbackOnly, false);
  assert.ok(p.client('10.1.2.3') && !p.client('127.0.0.1'));
  for (const host of ['api.example.test', 'a.cdn.test', 'a.b.cdn.test', '192.0.2.7', '[2001:db8::1]']) assert.ok(p.host(host), host);
  for (const host of ['example.test', 'cdn.test', 'xcdn.test', 'api.example.test.evil', '192.0.2.8']) assert.ok(!p.host(host), host);
  assert.ok(p.port(443, false) && p.port(8000, false) && p.port(8999, false));
  assert.ok(!p.port(80, false) && !p.port(9000, false) && !p.port(7999, false));
  assert.ok(p.port(1, true) && p.port(65535, true));
});

test('SSRF rule: special ranges refused, destinations lists what is allowed, private: true allows them all', () => {
  for (const address of ['127.0.0.1', '10.1.1.1', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fc00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '2001:db8::1', '224.0.0.1']) {
    assert.ok(!isPublicUnicast(address), address);
  }
  for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700::1111']) assert.ok(isPublicUnicast(address), address);
  const listed = policy({ destinations: ['127.0.0.1/32', '203.0.113.0/24'] });
  assert.ok(listed.destination('127.0.0.1') && listed.destination('203.0.113.9'));
  assert.ok(!listed.destination('127.0.0.2') && !listed.destination('8.8.8.8'), 'only the listed ranges');
  const open = policy({ private: true });
  assert.ok(open.destination('127.0.0.1') && open.destination('10.0.0.1') && open.destination('8.8.8.8'));
  assert.throws(() => policy({ destinations: ['10.0.0.0/8'], private: true }), /either destinations or private: true/);
  assert.throws(() => policy({ ports: ['80-'] }), /expected a port/);
  assert.throws(() => policy({ ports: [0] }), /expected a port/);
});

test('portOf: the port of an authority, the default without one, -1 when invalid', () => {
  assert.equal(portOf('example.test', 80), 80);
  assert.equal(portOf('example.test:8080', 80), 8080);
  assert.equal(portOf('[::1]', 80), 80);
  assert.equal(portOf('[::1]:443', 80), 443);
  for (const bad of ['example.test:', 'example.test:0', 'example.test:65536', 'example.test:12a', 'example.test:123456']) assert.equal(portOf(bad, 80), -1, bad);
});

test('password file: a switchyard passwd line verifies, a wrong password and an unknown user do not', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-passwd-'));
  try {
    const line = await hashPassword('alice', 'pä55 word');
    const file = path.join(dir, 'users');
    await writeFile(file, `# comment\n\n${line}\n`);
    const passwords = new PasswordFile();
    await passwords.load(file);
    const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    assert.equal(await passwords.check(basic('alice', 'pä55 word')), 'alice');
    assert.equal(await passwords.check(basic('alice', 'pä55 word')), 'alice', 'remembered');
    assert.equal(await passwords.check(basic('alice', 'wrong')), undefined);
    assert.equal(await passwords.check(basic('mallory', 'pä55 word')), undefined);
    assert.equal(await passwords.check('Bearer abc'), undefined);
    assert.notEqual(await hashPassword('alice', 'pä55 word'), line, 'a fresh salt each time');
    await assert.rejects(hashPassword('a:b', 'x'), /without ":"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
