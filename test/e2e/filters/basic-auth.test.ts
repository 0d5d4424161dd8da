// basic_auth end to end on every protocol pair: no, malformed or wrong credentials get 401 with the
// challenge and nothing upstream; verified ones go upstream without Authorization (with it under forward:
// true); a users file with a weak hash stops the start with a message naming the line.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { runSwitchyard } from '../../support/run-switchyard.ts';
import { cleanupStack } from '../../support/cleanup.ts';
import { bothEngines, clients, curl, pools, recordingOrigins, twoPools } from './edge-pairs.ts';

const defer = cleanupStack();
const basic = (user: string, password: string) => `authorization: Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function usersFile(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-basic-auth-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'users.htpasswd');
  await writeFile(file, text);
  return file;
}

describe('basic_auth on every protocol pair', { timeout: 60_000 }, () => {
  it('challenges, refuses, admits, and keeps the credentials from the upstream', async () => {
    const origins = await recordingOrigins(defer);
    const file = await usersFile(`# operators\nalice:${bcrypt.hashSync('wonderland', 8).replace('$2b$', '$2y$')}\n`);
    const auth = (forward: boolean) => `{ basic_auth: { users_file: ${JSON.stringify(file)}, realm: ops, forward: ${forward} } }`;
    const running = await runSwitchyard(`${twoPools(origins)}${bothEngines(`      - { match: { path_prefix: /h1/ }, pool: h1, middleware: [ ${auth(false)} ] }
      - { match: { path_prefix: /h2/ }, pool: h2, middleware: [ ${auth(false)} ] }
      - { match: { path_prefix: /forward/ }, pool: h1, middleware: [ ${auth(true)} ] }
`)}`);
    defer(() => running.stop());
    for (const { client, flags, listener } of clients) {
      for (const pool of pools) {
        const url = running.url(listener, `/${pool}/private`);
        const at = `${client} → ${pool}`;
        for (const fields of [[], ['authorization: Basic !!!'], ['authorization: Basic'], ['authorization: Bearer abc'], [basic('alice', 'wrong')], [basic('mallory', 'wonderland')]]) {
          const refused = await curl(flags, url, fields);
          assert.equal(refused.status, 401, `${at}: ${fields.join()}`);
          assert.equal(refused.headers['www-authenticate'], 'Basic realm="ops", charset="UTF-8"');
        }
        assert.equal(origins.seen.length, 0, `${at}: nothing reached the upstream`);
        const admitted = await curl(flags, url, [basic('alice', 'wonderland')]);
        assert.equal(admitted.status, 200, at);
        assert.equal(admitted.body, 'origin');
        const seen = origins.seen.pop()!;
        assert.equal(seen.headers.authorization, undefined, `${at}: Authorization removed upstream`);
      }
    }
    assert.equal((await curl(['--http1.1'], running.url('edge', '/forward/x'), [basic('alice', 'wonderland')])).status, 200);
    assert.equal(origins.seen.pop()!.headers.authorization, `Basic ${Buffer.from('alice:wonderland').toString('base64')}`);
  });

  it('a users file with a weak hash is refused at start, naming the file and line', async () => {
    const origins = await recordingOrigins(defer);
    const file = await usersFile('alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n');
    await assert.rejects(
      runSwitchyard(`${twoPools(origins)}listeners:
  - name: edge
    listen: 127.0.0.1:0
    routes:
      - { match: { path_prefix: / }, pool: h1, middleware: [ { basic_auth: { users_file: ${JSON.stringify(file)} } } ] }
`),
      (err: Error) => err.message.includes(`${file}:1`) && err.message.includes('{SHA}'),
    );
  });
});
