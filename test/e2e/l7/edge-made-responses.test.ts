// Responses the edge makes itself — static files (200, 206, 304, 416), fixed, redirect, 404, 502, 503 —
// carry a Date and RFC 9110's reason phrases: over HTTP/1.1 read on a raw socket (the status line as
// sent), over HTTP/2 (h2c, the codec) with curl. A real `switchyard start` process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { refusedPort } from '../../support/origins.ts';
import { headerOf, rawExchange } from './helpers.ts';

const run = promisify(execFile);
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

let dir: string;
let sy: RunningSwitchyard;
let etag: string;

const routes = (indent: string): string =>
  [
    '- { match: { path_prefix: /files/ }, static: { root: ROOT }, strip_prefix: /files }',
    '- { match: { path: /fixed }, respond: { status: 202, body: "accepted here" } }',
    '- { match: { path: /old }, redirect: { to: /new, status: 308 } }',
    '- { match: { path: /dead }, pool: dead }',
    '- { match: { path: /down }, pool: down }',
  ]
    .map((line) => `${indent}${line}`)
    .join('\n');

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sy-edge-made-'));
  await writeFile(path.join(dir, 'hello.txt'), 'hello, world');
  const [dead, down] = await Promise.all([refusedPort(), refusedPort()]);
  sy = await runSwitchyard(
    `
log: { access_log: "off" }
pools:
  dead: { backends: [ { address: 127.0.0.1:${dead} } ] }
  down:
    backends: [ { address: 127.0.0.1:${down} } ]
    health: { type: tcp, interval: 100ms, timeout: 200ms, fall: 1, rise: 1 }
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
${routes('      ')}
  - name: h2
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
${routes('      ')}
`.replaceAll('ROOT', JSON.stringify(dir)),
  );
  await sy.waitForLine((line) => line.msg === 'backend down' && line.pool === 'down', 5_000);
});

after(async () => {
  await sy?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** One HTTP/1.1 request on a fresh connection: the status line and the head as sent. */
async function h1(target: string, headers = ''): Promise<{ statusLine: string; head: string }> {
  const { port } = sy.ready.listeners.web;
  const result = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: a.test\r\n${headers}Connection: close\r\n\r\n`);
  const statusLine = result.text.slice(0, result.text.indexOf('\r\n'));
  return { statusLine, head: result.text.slice(0, result.text.indexOf('\r\n\r\n') + 2) };
}

function assertDate(head: string, where: string): void {
  const dates = head.split('\r\n').filter((line) => /^date:/i.test(line));
  assert.equal(dates.length, 1, `${where}: one Date header in\n${head}`);
  const value = dates[0].slice(5).trim();
  assert.match(value, IMF_FIXDATE, where);
  assert.ok(Math.abs(Date.parse(value) - Date.now()) < 5_000, `${where}: Date ${value} is now`);
}

test('HTTP/1.1: exact status lines and one Date on every response the edge makes', async () => {
  const ok = await h1('/files/hello.txt');
  etag = headerOf(ok.head, 'etag')!;
  const cases: [string, string, string][] = [
    ['/files/hello.txt', '', 'HTTP/1.1 200 OK'],
    ['/files/hello.txt', 'Range: bytes=0-4\r\n', 'HTTP/1.1 206 Partial Content'],
    ['/files/hello.txt', `If-None-Match: ${etag}\r\n`, 'HTTP/1.1 304 Not Modified'],
    ['/files/hello.txt', 'Range: bytes=100-200\r\n', 'HTTP/1.1 416 Range Not Satisfiable'],
    ['/files/missing.txt', '', 'HTTP/1.1 404 Not Found'],
    ['/fixed', '', 'HTTP/1.1 202 Accepted'],
    ['/old', '', 'HTTP/1.1 308 Permanent Redirect'],
    ['/nowhere', '', 'HTTP/1.1 404 Not Found'],
    ['/dead', '', 'HTTP/1.1 502 Bad Gateway'],
    ['/down', '', 'HTTP/1.1 503 Service Unavailable'],
  ];
  for (const [target, headers, statusLine] of cases) {
    const response = await h1(target, headers);
    assert.equal(response.statusLine, statusLine, `${target} ${headers.trim()}`);
    assertDate(response.head, `${statusLine} for ${target}`);
  }
});

test('HTTP/2 (curl --http2-prior-knowledge): the same responses carry a Date', async () => {
  const { port } = sy.ready.listeners.h2;
  const cases: [string, string[], number][] = [
    ['/files/hello.txt', [], 200],
    ['/files/hello.txt', ['-H', 'range: bytes=0-4'], 206],
    ['/files/hello.txt', ['-H', `if-none-match: ${etag}`], 304],
    ['/files/hello.txt', ['-H', 'range: bytes=100-200'], 416],
    ['/fixed', [], 202],
    ['/old', [], 308],
    ['/nowhere', [], 404],
    ['/dead', [], 502],
    ['/down', [], 503],
  ];
  for (const [target, extra, status] of cases) {
    const { stdout } = await run('curl', ['-sS', '--http2-prior-knowledge', '-o', '/dev/null', '-D', '-', ...extra, `http://127.0.0.1:${port}${target}`], { timeout: 10_000 });
    assert.match(stdout, new RegExp(`^HTTP/2 ${status} \\r\\n`), `${target}: ${stdout}`);
    assertDate(stdout, `h2 ${status} for ${target}`);
  }
});
