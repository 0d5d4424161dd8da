// log.access_log_format on a real `switchyard start`: json (default), combined and text lines for real
// requests over HTTP/1.1 (curl) and HTTP/2 (curl --http2-prior-knowledge, the codec), to stdout and a file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';

const run = promisify(execFile);

async function edge(log: string): Promise<RunningSwitchyard> {
  return runSwitchyard(`
log: ${log}
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes: [ { name: hello, match: { path_prefix: / }, respond: { status: 201, body: "hello" } } ]
  - name: h2
    listen: 127.0.0.1:0
    protocol: h2c
    routes: [ { name: hello, match: { path_prefix: / }, respond: { status: 201, body: "hello" } } ]
`);
}

/** One request per protocol, with a Referer and a User-Agent that needs escaping (quotes; é, sent as the bytes c3 a9). */
async function requests(sy: RunningSwitchyard): Promise<void> {
  const common = ['-sS', '-o', '/dev/null', '-e', 'http://ref.test/page', '-A', 'probe "one" é'];
  await run('curl', [...common, `http://127.0.0.1:${sy.ready.listeners.web.port}/h1/path?secret=1`], { timeout: 10_000 });
  await run('curl', [...common, '--http2-prior-knowledge', `http://127.0.0.1:${sy.ready.listeners.h2.port}/h2/path`], { timeout: 10_000 });
}

/** The access lines printed on stdout (a non-JSON line is kept by run-switchyard as { msg }). */
async function accessLines(sy: RunningSwitchyard, match: (text: string) => boolean): Promise<string[]> {
  await sy.waitForLine((line) => typeof line.msg === 'string' && match(line.msg) && line.msg.includes('/h2/path'));
  return sy.lines.map((line) => line.msg).filter((msg): msg is string => typeof msg === 'string' && match(msg));
}

test('combined: Apache/nginx combined lines for HTTP/1.1 and HTTP/2, on stdout', { timeout: 30_000 }, async (t) => {
  const sy = await edge('{ access_log_format: combined }');
  t.after(() => sy.stop());
  await requests(sy);
  const lines = await accessLines(sy, (text) => text.startsWith('127.0.0.1 - - ['));
  const date = String.raw`\[\d{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d{2}:\d{2}:\d{2} \+0000\]`;
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0], new RegExp(`^127\\.0\\.0\\.1 - - ${date} "GET /h1/path HTTP/1\\.1" 201 \\d+ "http://ref\\.test/page" "probe \\\\x22one\\\\x22 \\\\xc3\\\\xa9"$`)); // the bytes sent, each escaped once
  assert.match(lines[1], new RegExp(`^127\\.0\\.0\\.1 - - ${date} "GET /h2/path HTTP/2\\.0" 201 5 "http://ref\\.test/page" "probe \\\\x22one\\\\x22 \\\\xc3\\\\xa9"$`)); // the bytes sent, each escaped once
  assert.ok(!lines[0].includes('secret'), 'the query stays out of the log');
});

test('text: a short line per request for HTTP/1.1 and HTTP/2, on stdout', { timeout: 30_000 }, async (t) => {
  const sy = await edge('{ access_log_format: text }');
  t.after(() => sy.stop());
  await requests(sy);
  const lines = await accessLines(sy, (text) => /^\d{4}-\d{2}-\d{2}T/.test(text));
  assert.equal(lines.length, 2, lines.join('\n'));
  const { web, h2 } = sy.ready.listeners;
  assert.match(lines[0], new RegExp(`^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z 127\\.0\\.0\\.1 GET 127\\.0\\.0\\.1:${web.port}/h1/path 201 \\d+B \\d+\\.\\d{3}ms route=hello$`));
  assert.match(lines[1], new RegExp(`^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z 127\\.0\\.0\\.1 GET 127\\.0\\.0\\.1:${h2.port}/h2/path 201 5B \\d+\\.\\d{3}ms route=hello h2$`));
});

test('json stays the default, and a file gets the configured format', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sy-access-format-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const accessFile = path.join(dir, 'access.log');
  const sy = await edge(`{ access_log: ${JSON.stringify(accessFile)}, access_log_format: text }`);
  t.after(() => sy.stop());
  await requests(sy);
  // a clean stop writes the lines still buffered
  assert.equal(await sy.stop(), 0);
  const file = (await readFile(accessFile, 'utf8')).trimEnd().split('\n');
  assert.equal(file.length, 2, file.join('\n'));
  assert.match(file[0], / GET 127\.0\.0\.1:\d+\/h1\/path 201 \d+B [\d.]+ms route=hello$/);
  assert.match(file[1], / GET 127\.0\.0\.1:\d+\/h2\/path 201 5B [\d.]+ms route=hello h2$/);

  const json = await edge('{}');
  t.after(() => json.stop());
  await requests(json);
  const line = await json.waitForLine((entry) => entry.log === 'access' && entry.path === '/h2/path');
  assert.equal(line.status, 201);
  assert.equal(line.protocol, 'h2');
});

test('a request refused before it was parsed whole still gets its access line (status, client), in every format', { timeout: 30_000 }, async (t) => {
  const badRequest = (sy: RunningSwitchyard): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = net.connect(sy.ready.listeners.web.port, '127.0.0.1');
      let reply = '';
      socket.on('data', (chunk) => (reply += chunk.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(reply));
      socket.write('GET /a\x01b HTTP/1.1\r\nhost: x\r\n\r\n');
    });

  const json = await edge('{}');
  t.after(() => json.stop());
  assert.match(await badRequest(json), /^HTTP\/1\.1 400 Bad Request\r\n/);
  const line = await json.waitForLine((entry) => entry.log === 'access' && entry.status === 400);
  assert.equal(line.client, '127.0.0.1');
  assert.equal(line.method, '', 'what the refused head said is not logged as if it were a request');

  const combined = await edge('{ access_log_format: combined }');
  t.after(() => combined.stop());
  await badRequest(combined);
  const text = await combined.waitForLine((entry) => typeof entry.msg === 'string' && / 400 /.test(entry.msg));
  assert.match(String(text.msg), /^127\.0\.0\.1 - - \[[^\]]+\] "- - HTTP\/1\.1" 400 0 "-" "-"$/);
});
