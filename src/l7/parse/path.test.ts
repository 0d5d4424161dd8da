import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizePath } from './path.ts';

test('normal paths come back unchanged (the same string on the fast path)', () => {
  for (const path of ['/', '/api/users/7', '/a//b', '/.well-known/x', '/a/b.c/..d', '/a/...', '/%20space', '/a%3Bb']) {
    assert.equal(normalizePath(path), path);
  }
});

test('dot segments are removed (RFC 3986 5.2.4)', () => {
  const cases: [string, string][] = [
    ['/api/../x', '/x'],
    ['/a/./b', '/a/b'],
    ['/a/b/../../c', '/c'],
    ['/a/b/..', '/a/'],
    ['/a/.', '/a/'],
    ['/.', '/'],
    ['/a/b/../c/./d', '/a/c/d'],
    ['/.well-known/../x', '/x'],
    ['/a//../b', '/a/b'],
    ['/a/...', '/a/...'],
  ];
  for (const [input, output] of cases) assert.equal(normalizePath(input), output, input);
});

test('unreserved escapes are decoded, others kept; encoded dots are dot segments', () => {
  assert.equal(normalizePath('/%61dmin'), '/admin');
  assert.equal(normalizePath('/%7Euser/%2D%2e%5F'), '/~user/-._');
  assert.equal(normalizePath('/a%20b/%3F'), '/a%20b/%3F');
  assert.equal(normalizePath('/api/%2e%2e/admin'), '/admin');
  assert.equal(normalizePath('/api/.%2E/admin'), '/admin');
  assert.equal(normalizePath('/%C3%A9t%C3%A9'), '/%C3%A9t%C3%A9');
});

test('refused: encoded separators, NUL, backslash, malformed escapes, escaping the root', () => {
  for (const path of ['/a%2Fb', '/a%2fb', '/a%5Cb', '/a%5cb', '/a%00b', '/a\\b', '/a%zz', '/a%4', '/a%', '/..', '/../x', '/a/../..', '/%2e%2e/etc/passwd', '/a/./../../b']) {
    assert.equal(normalizePath(path), null, path);
  }
});

test('property: the result is normal (idempotent), starts with "/", and has no dot segments', () => {
  const segment = fc.constantFrom('a', 'b', '.', '..', '%2e', '%41', '', 'x.y', '%20');
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 8 }), (parts) => {
      const result = normalizePath('/' + parts.join('/'));
      if (result === null) return;
      assert.ok(result.startsWith('/'));
      assert.equal(normalizePath(result), result);
      assert.ok(!result.split('/').some((part) => part === '.' || part === '..'), result);
    }),
    { numRuns: 2000 },
  );
});
