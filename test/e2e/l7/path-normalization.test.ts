// Routing on the normalised path: dot segments removed, unreserved escapes decoded, and the normalised
// path sent upstream (like nginx); encoded separators, NUL, backslashes and `..` above the root are
// refused with 400 before anything goes upstream. Two recording origins show which route got what.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startProxy, rawExchange, type TestProxy } from './helpers.ts';
import { startRecordingOrigin, type RecordingOrigin } from '../../support/origins.ts';

const run = promisify(execFile);
let api: RecordingOrigin;
let other: RecordingOrigin;
let proxy: TestProxy;

before(async () => {
  api = await startRecordingOrigin();
  other = await startRecordingOrigin();
  proxy = await startProxy(
    { routes: [{ match: { path_prefix: '/api/' }, pool: 'api' }, { match: { path_prefix: '/' }, pool: 'other' }] },
    { api: { backends: [{ address: api.address }] }, other: { backends: [{ address: other.address }] } },
  );
});

after(async () => {
  await proxy.stop();
  await api.close();
  await other.close();
});

/** Sends one request; returns the status and the request line the origin that got it saw ('' for none). */
async function send(target: string): Promise<{ status: number; apiLine: string; otherLine: string }> {
  const apiBefore = api.received().length;
  const otherBefore = other.received().length;
  const result = await rawExchange(proxy.port, `GET ${target} HTTP/1.1\r\nhost: a\r\n\r\n`, { responses: 1 });
  assert.equal(result.responses.length, 1, result.text);
  const line = (text: string): string => (text.length === 0 ? '' : text.slice(0, text.indexOf('\r\n')));
  return { status: result.responses[0].status, apiLine: line(api.received().slice(apiBefore)), otherLine: line(other.received().slice(otherBefore)) };
}

test('dot segments cannot smuggle a request past a prefix route; the upstream gets the normalised path', async () => {
  assert.deepEqual(await send('/api/../admin'), { status: 200, apiLine: '', otherLine: 'GET /admin HTTP/1.1' });
  assert.deepEqual(await send('/api/%2e%2E/admin'), { status: 200, apiLine: '', otherLine: 'GET /admin HTTP/1.1' });
  assert.deepEqual(await send('/api/./users/../users/7?q=%2e%2e'), { status: 200, apiLine: 'GET /api/users/7?q=%2e%2e HTTP/1.1', otherLine: '' });
  assert.deepEqual(await send('/x/../api/users'), { status: 200, apiLine: 'GET /api/users HTTP/1.1', otherLine: '' });
});

test('percent-encoded unreserved characters are decoded for routing and upstream; other escapes are kept', async () => {
  assert.deepEqual(await send('/%61pi/users'), { status: 200, apiLine: 'GET /api/users HTTP/1.1', otherLine: '' });
  assert.deepEqual(await send('/api/a%20b%3F'), { status: 200, apiLine: 'GET /api/a%20b%3F HTTP/1.1', otherLine: '' });
});

test('an already normal target goes upstream byte for byte', async () => {
  assert.deepEqual(await send('/api/users/7?x=%41&y=../z'), { status: 200, apiLine: 'GET /api/users/7?x=%41&y=../z HTTP/1.1', otherLine: '' });
});

test('absolute-form targets are normalised too', async () => {
  assert.deepEqual(await send('http://a/api/../admin'), { status: 200, apiLine: '', otherLine: 'GET /admin HTTP/1.1' });
});

test('encoded slash or backslash, NUL, a raw backslash, malformed escapes and `..` above the root: 400, nothing upstream', async () => {
  for (const target of ['/api%2Fusers', '/api/a%2fb', '/api/a%5Cb', '/api/a%5cb', '/api/a%00', '/api/a\\b', '/api/%zz', '/..', '/../etc/passwd', '/api/../../etc/passwd', '/%2e%2e/x']) {
    const result = await send(target);
    assert.deepEqual(result, { status: 400, apiLine: '', otherLine: '' }, target);
  }
});

test('curl --path-as-is: the same rules for a real client', async () => {
  const { stdout } = await run('curl', ['-sS', '--path-as-is', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${proxy.port}/api/../admin`]);
  assert.equal(stdout, '200');
  assert.match(other.received(), /GET \/admin HTTP\/1\.1\r\n/);
  const refused = await run('curl', ['-sS', '--path-as-is', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${proxy.port}/../etc/passwd`]);
  assert.equal(refused.stdout, '400');
});
