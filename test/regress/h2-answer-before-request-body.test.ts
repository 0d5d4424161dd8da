// A filter answering an HTTP/2 request before its body arrived (a forged JWT on a small POST) reached curl
// as "(92) Stream error in the HTTP/2 framing layer" about one time in seven: the codec reset the stream
// with NO_ERROR right after the answer, while curl (before 8.x) was still uploading. A short body of known
// length is now read to its end and dropped instead, so every request gets the 401.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runSwitchyard, type RunningSwitchyard } from '../support/run-switchyard.ts';
import { refusedPort } from '../support/origins.ts';

const run = promisify(execFile);
let dir: string;
let sy: RunningSwitchyard;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sy-h2-early-answer-'));
  await writeFile(path.join(dir, 's.secret'), randomBytes(32).toString('base64'), { mode: 0o600 });
  sy = await runSwitchyard(
    `
log: { access_log: "off" }
pools: { o: { backends: [ { address: 127.0.0.1:${await refusedPort()} } ] } }
listeners:
  - name: e
    listen: 127.0.0.1:0
    protocol: h2c
    routes:
      - { match: { path_prefix: / }, pool: o, middleware: [ { jwt: { secret_file: ${JSON.stringify(path.join(dir, 's.secret'))}, algorithms: [HS256], cookie: sy } } ] }
`,
  );
});

after(async () => {
  await sy?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('every small POST refused by a filter gets its 401 over HTTP/2, none a stream error', { timeout: 60_000 }, async () => {
  const url = `http://127.0.0.1:${sy.ready.listeners.e.port}/x`;
  const codes: string[] = [];
  for (let i = 0; i < 40; i++) {
    const { stdout } = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', '--http2-prior-knowledge', '-X', 'POST', '-H', 'cookie: sy=forged.token.here', '--data', '{"a":1}', url]);
    codes.push(stdout);
  }
  assert.deepEqual(codes, new Array(40).fill('401'));
});
