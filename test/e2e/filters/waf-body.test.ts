// The waf's body inspection end to end: curl posts SQL injection and XSS in form and JSON bodies and gets
// 403 naming the body rule on every protocol pair; a benign JSON body reaches the origin intact; a probe
// split across packets (HTTP/1.1 chunked and with Content-Length over a raw socket, HTTP/2 DATA frames
// from node's client) is still refused; the recording origins prove no refused body reached an upstream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import { once } from 'node:events';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { curl, downstreams, filterEdgeConfig, pools, startRecordingOrigins, urlOf, type RecordingOrigins } from '../../support/filter-e2e.ts';

const form = 'content-type: application/x-www-form-urlencoded';
const json = 'content-type: application/json';

/** [what, content-type field, body, the rule expected]. */
const probes: [string, string, string, string][] = [
  ["form: ' or 1=1", form, "user=admin'+or+1=1--&password=x", 'body-sqli-tautology'],
  ['form: encoded union select', form, 'id=1%20UNION%20ALL%20SELECT%20password%20FROM%20users', 'body-sqli-union'],
  ['json: tautology', json, `{"user":"admin' OR '1'='1","password":"x"}`, 'body-sqli-tautology'],
  ['json: <script>', json, '{"comment":"<script>alert(1)</script>"}', 'body-xss-script'],
  ['own rule on any body', 'content-type: application/octet-stream', 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!', 'no-eicar'],
];

const benign = '{"name":"O\'Reilly","color":"#fff","flag":"--verbose","note":"orange is the new black","filter":{"status":"open","total":{"gt":10}}}';

const later = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('waf body inspection end to end', { timeout: 180_000 }, () => {
  let origins: RecordingOrigins;
  let edge: RunningSwitchyard;

  before(async () => {
    origins = await startRecordingOrigins();
    edge = await runSwitchyard(filterEdgeConfig(origins, [{ waf: { builtin: ['sqli', 'xss'], body: { inspect_size: '8kb' }, rules: [{ id: 'no-eicar', body: 'EICAR-STANDARD' }] } }]));
  });

  after(async () => {
    await edge?.stop();
    await origins?.close();
  });

  it('refuses SQL injection and XSS bodies with 403 naming the body rule, on every protocol pair; nothing reaches an origin', async () => {
    const before = origins.seen.length;
    for (const [what, type, body, rule] of probes) {
      for (const downstream of downstreams) {
        for (const pool of pools) {
          const reply = await curl(downstream.flags, urlOf(edge.url, downstream, `/${pool}/login`), [type], ['--data-binary', body]);
          assert.equal(reply.status, 403, `${what}, ${downstream.client} → ${pool}: ${reply.body}`);
          assert.equal(reply.headers['x-switchyard-waf-rule'], rule, `${what}, ${downstream.client} → ${pool}`);
        }
      }
    }
    assert.deepEqual(origins.seen.slice(before), [], 'no refused body reached an origin');
    // each worker's lines reach stdout in its own batches: wait until every rule's refusal is there
    const refusedReasons = () => new Set(edge.lines.filter((line) => line.log === 'access' && line.status === 403).map((line) => line.reason));
    await edge.waitForLine(() => probes.every(([, , , rule]) => refusedReasons().has(`waf:${rule}`)));
    const reasons = refusedReasons();
    for (const [what, , , rule] of probes) assert.ok(reasons.has(`waf:${rule}`), `${what}: ${[...reasons].join(' ')}`);
  });

  it('lets a benign JSON body (and one larger than the inspected prefix) through to the origin intact, on every pair', async () => {
    const large = JSON.stringify({ items: Array.from({ length: 800 }, (_, i) => ({ id: i, name: `item ${i}`, tag: '#fff' })) });
    assert.ok(large.length > 16_384);
    for (const downstream of downstreams) {
      for (const pool of pools) {
        for (const body of [benign, large]) {
          const before = origins.seen.length;
          const reply = await curl(downstream.flags, urlOf(edge.url, downstream, `/${pool}/api/items`), [json], ['--data-binary', body]);
          assert.equal(reply.status, 200, `${downstream.client} → ${pool}: ${reply.body}`);
          assert.equal(origins.seen.length, before + 1);
          assert.equal(origins.seen.at(-1)!.body, body, `${downstream.client} → ${pool}: the body arrives whole`);
        }
      }
    }
  });

  it('HTTP/1.1: a probe split across packets (chunked, and with Content-Length) is refused; nothing reaches an origin', async () => {
    const { port } = edge.ready.listeners.plain;
    const before = origins.seen.length;
    for (const pool of pools) {
      for (const framing of ['chunked', 'length'] as const) {
        const socket = net.connect(port, '127.0.0.1');
        await once(socket, 'connect');
        const received: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => received.push(chunk));
        const ended = once(socket, 'end');
        const parts = framing === 'chunked' ? ['8\r\nid=1+UNI\r\n', '9\r\nON+SELECT\r\n', '9\r\n+password\r\n0\r\n\r\n'] : ['id=1+UNI', 'ON+SELECT', '+password'];
        const length = framing === 'chunked' ? 'transfer-encoding: chunked' : 'content-length: 26';
        socket.write(`POST /${pool}/items HTTP/1.1\r\nhost: edge.test\r\nconnection: close\r\n${form}\r\n${length}\r\n\r\n`);
        for (const part of parts) {
          // a pause between writes so the edge reads each part as its own packet
          await new Promise<void>((resolve) => socket.write(part, () => resolve()));
          await later(50);
        }
        await ended;
        const text = Buffer.concat(received).toString('latin1');
        assert.match(text, /^HTTP\/1\.1 403 /, `${pool} ${framing}: ${text}`);
        assert.match(text, /x-switchyard-waf-rule: body-sqli-union/i, `${pool} ${framing}`);
        socket.destroy();
      }
    }
    assert.deepEqual(origins.seen.slice(before), []);
  });

  it('HTTP/2: a probe split across DATA frames is refused on both engines; nothing reaches an origin', async () => {
    const before = origins.seen.length;
    for (const listener of ['codec', 'node']) {
      const session = http2.connect(`http://127.0.0.1:${edge.ready.listeners[listener].port}`);
      for (const pool of pools) {
        const stream = session.request({ ':method': 'POST', ':path': `/${pool}/items`, 'content-type': 'application/json' });
        const response = once(stream, 'response');
        const closed = once(stream, 'close');
        const body: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => body.push(chunk));
        for (const part of ['{"id":"1\' ', 'or \'a\'=', '\'a"}']) {
          await new Promise<void>((resolve) => stream.write(part, () => resolve()));
          await later(50);
        }
        stream.end();
        const [headers] = (await response) as [http2.IncomingHttpHeaders];
        await closed;
        assert.equal(headers[':status'], 403, `${listener} → ${pool}: ${Buffer.concat(body).toString()}`);
        assert.equal(headers['x-switchyard-waf-rule'], 'body-sqli-tautology', `${listener} → ${pool}`);
      }
      session.close();
    }
    assert.deepEqual(origins.seen.slice(before), []);
  });
});
