// A health transition is one log line in the primary: `backend down` at warn, `backend up` at info, each
// carrying pool, backend and reason. kill -9 a real origin process, restart it, then read the whole log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSwitchyard } from '../../support/run-switchyard.ts';
import { startOriginProcess } from '../../support/origin-process.ts';

test('kill an origin, restart it: exactly one warn line for down, one info line for up', { timeout: 30_000 }, async (t) => {
  const [a, b] = await Promise.all([startOriginProcess({ name: 'a' }), startOriginProcess({ name: 'b' })]);
  t.after(() => Promise.all([a.close(), b.close()]));
  const sy = await runSwitchyard(`
log: { access_log: "off" }
pools:
  app:
    backends: [ { address: ${a.address} }, { address: ${b.address} } ]
    health: { type: http, path: /healthz, interval: 100ms, timeout: 300ms, rise: 2, fall: 2 }
listeners:
  - name: web
    listen: 127.0.0.1:0
    routes:
      - { match: { path_prefix: / }, pool: app }
`);
  t.after(() => sy.stop());
  const mentions = (line: Record<string, unknown>): boolean => line.backend === b.address;

  await b.kill();
  const down = await sy.waitForLine((line) => mentions(line) && line.msg === 'backend down', 5_000);
  await b.restart();
  const up = await sy.waitForLine((line) => mentions(line) && line.msg === 'backend up', 5_000);
  // after a clean stop every line the primary wrote has been read
  assert.equal(await sy.stop(), 0);

  assert.equal(down.level, 'warn');
  assert.equal(down.pool, 'app');
  assert.match(String(down.reason), /connection refused|connection reset/);
  assert.equal(up.level, 'info');
  assert.equal(up.pool, 'app');
  assert.equal(typeof up.reason, 'string');
  const about = sy.lines.filter(mentions);
  assert.deepEqual(about.map((line) => [line.level, line.msg]), [['warn', 'backend down'], ['info', 'backend up']], JSON.stringify(about));
});
