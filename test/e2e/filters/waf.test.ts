// The waf filter end to end: real curl requests carrying each built-in set's probes get 403 naming the
// rule on every protocol pair, and the recording origins prove none of them reached an upstream; ordinary
// requests pass; own rules and CIDR deny; `mode: detect` lets probes through. Patterns and CIDRs cross to
// the worker process in the config snapshot (one worker).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { curl, downstreams, filterEdgeConfig, pools, startRecordingOrigins, urlOf, type RecordingOrigins } from '../../support/filter-e2e.ts';

/** [what, path and query as curl sends them, extra curl fields, the rule expected]. */
const probes: [string, string, string[], string][] = [
  ["sqli: ' or 1=1", "/login?user=admin'%20or%201=1--", [], 'sqli-tautology'],
  ['sqli: union select', '/items?id=1%20UNION%20ALL%20SELECT%20password%20FROM%20users', [], 'sqli-union'],
  ['sqli: stacked drop', '/items?id=1;%20DROP%20TABLE%20users', [], 'sqli-stacked'],
  ['xss: <script>', '/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E', [], 'xss-script'],
  ['xss: javascript:', '/go?next=javascript:alert(document.cookie)', [], 'xss-uri'],
  ['xss: onerror', '/search?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E', [], 'xss-handler'],
  ['traversal: ../ in the query', '/download?file=../../etc/shadow', [], 'traversal-dotdot'],
  ['traversal: %2e%2e', '/download?file=%2e%2e%2f%2e%2e%2fapp.conf', [], 'traversal-encoded'],
  ['traversal: double-encoded in the path', '/static/%252e%252e/%252e%252e/secret', [], 'traversal-encoded'],
  ['traversal: /etc/passwd', '/view?page=/etc/passwd', [], 'traversal-file'],
  ['scanner: sqlmap', '/', ['user-agent: sqlmap/1.7.2#stable (https://sqlmap.org)'], 'scanner-agent'],
  ['scanner: nikto', '/', ['user-agent: Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)'], 'scanner-agent'],
  ['scanner: nmap', '/', ['user-agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)'], 'scanner-agent'],
  ['scanner: masscan', '/', ['user-agent: masscan/1.3 (https://github.com/robertdavidgraham/masscan)'], 'scanner-agent'],
  ['scanner: zgrab', '/', ['user-agent: Mozilla/5.0 zgrab/0.x'], 'scanner-agent'],
  ['own rule: DELETE under /admin', '/admin/users/7', ['x-method: DELETE'], 'no-admin-delete'],
];

const ordinary = [
  '/api/users/42?fields=name,email&sort=-created_at',
  '/search?q=rock+and+roll&page=2',
  "/search?q=O'Reilly+books+or+magazines",
  '/api/orders?filter=%7B%22status%22%3A%22open%22%2C%22total%22%3A%7B%22gt%22%3A10%7D%7D',
  '/docs/v1.2/release-notes.html',
  '/a/b?redirect=https%3A%2F%2Fexample.test%2Fhome%3Fx%3D1',
];

function middleware(mode: 'block' | 'detect'): unknown[] {
  return [
    {
      waf: {
        mode,
        builtin: ['sqli', 'xss', 'traversal', 'scanners'],
        deny: ['192.0.2.0/24'],
        rules: [
          { id: 'health-ok', action: 'allow', path: '^/h[12]/healthz$' },
          { id: 'no-admin-delete', methods: ['DELETE'], path: '^/h[12]/admin/' },
        ],
      },
    },
  ];
}

describe('waf filter end to end', { timeout: 180_000 }, () => {
  let origins: RecordingOrigins;
  let edge: RunningSwitchyard;

  before(async () => {
    origins = await startRecordingOrigins();
    edge = await runSwitchyard(filterEdgeConfig(origins, middleware('block')));
  });

  after(async () => {
    await edge?.stop();
    await origins?.close();
  });

  it('blocks each built-in category and own rules with 403 naming the rule, on every protocol pair; nothing reaches an origin', async () => {
    const before = origins.seen.length;
    for (const [what, target, fields, rule] of probes) {
      const method = fields.find((field) => field.startsWith('x-method: '))?.slice(10);
      for (const downstream of downstreams) {
        for (const pool of pools) {
          const reply = await curl(downstream.flags, urlOf(edge.url, downstream, `/${pool}${target}`), fields.filter((field) => !field.startsWith('x-method')), ['--path-as-is', ...(method ? ['-X', method] : [])]);
          assert.equal(reply.status, 403, `${what}, ${downstream.client} → ${pool}: ${reply.body}`);
          assert.equal(reply.headers['x-switchyard-waf-rule'], rule, `${what}, ${downstream.client} → ${pool}`);
          assert.match(reply.body, new RegExp(`rule ${rule}`));
        }
      }
    }
    assert.equal(origins.seen.length, before, 'no probe reached an origin');
    // the access log gives the rule as the request's reason
    // each worker's lines reach stdout in its own batches: wait until every rule's refusal is there
    const refusedReasons = () => new Set(edge.lines.filter((line) => line.log === 'access' && line.status === 403).map((line) => line.reason));
    await edge.waitForLine(() => probes.every(([, , , rule]) => refusedReasons().has(`waf:${rule}`)));
    const reasons = refusedReasons();
    for (const [what, , , rule] of probes) assert.ok(reasons.has(`waf:${rule}`), `${what}: ${[...reasons].join(' ')}`);
  });

  it('lets ordinary requests through, and an allow rule skips the built-in set', async () => {
    for (const downstream of downstreams) {
      for (const pool of pools) {
        for (const target of ordinary) {
          const reply = await curl(downstream.flags, urlOf(edge.url, downstream, `/${pool}${target}`));
          assert.equal(reply.status, 200, `${target}, ${downstream.client} → ${pool}: ${reply.body}`);
        }
        const health = await curl(downstream.flags, urlOf(edge.url, downstream, `/${pool}/healthz`), ['user-agent: nikto']);
        assert.equal(health.status, 200, 'allow rule');
      }
    }
  });
});

describe('waf filter end to end: detect mode and CIDR deny', { timeout: 120_000 }, () => {
  let origins: RecordingOrigins;
  let detect: RunningSwitchyard;
  let denyLocal: RunningSwitchyard;

  before(async () => {
    origins = await startRecordingOrigins();
    detect = await runSwitchyard(filterEdgeConfig(origins, middleware('detect'), { extraYaml: 'admin: { listen: 127.0.0.1:0 }\n' }));
    denyLocal = await runSwitchyard(filterEdgeConfig(origins, [{ waf: { builtin: [], deny: ['127.0.0.0/8'] } }]));
  });

  after(async () => {
    await detect?.stop();
    await denyLocal?.stop();
    await origins?.close();
  });

  /** The waf's event counters from /metrics (summed over workers). */
  async function wafEvents(): Promise<Record<string, number>> {
    const token = (await readFile(path.join(detect.dir, 'data', 'admin.token'), 'utf8')).trim();
    const response = await fetch(`http://127.0.0.1:${detect.ready.admin!.port}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    const events: Record<string, number> = {};
    for (const match of (await response.text()).matchAll(/^switchyard_filter_events_total\{filter="waf",event="([^"]+)"\} (\d+)$/gm)) events[match[1]] = Number(match[2]);
    return events;
  }

  it('detect mode lets every probe through to the origin, counting each rule in the metrics', async () => {
    const before = origins.seen.length;
    for (const [what, target, fields] of probes.slice(0, 12)) {
      const reply = await curl(['--http2-prior-knowledge'], detect.url('codec', `/h2${target}`), fields.filter((field) => !field.startsWith('x-method')), ['--path-as-is']);
      assert.equal(reply.status, 200, `${what}: ${reply.body}`);
      assert.equal(reply.headers['x-switchyard-waf-rule'], undefined);
    }
    assert.equal(origins.seen.length, before + 12);
    const events = await wafEvents();
    assert.equal(events.detected, 12);
    assert.equal(events.blocked, undefined);
    assert.equal(events['sqli-tautology'], 1);
    assert.equal(events['sqli-union'], 1);
    assert.equal(events['traversal-encoded'], 2);
    assert.equal(events['scanner-agent'], 2);
    const logged = await detect.waitForLine((line) => line.log === 'access' && line.reason === 'waf:sqli-union');
    assert.equal(logged.status, 200, 'detect mode: let through, and the rule still in the record');
  });

  it('a denied client address gets 403 cidr-deny on every protocol pair, and reaches nothing', async () => {
    const before = origins.seen.length;
    for (const downstream of downstreams) {
      for (const pool of pools) {
        const reply = await curl(downstream.flags, urlOf(denyLocal.url, downstream, `/${pool}/anything`));
        assert.equal(reply.status, 403, `${downstream.client} → ${pool}`);
        assert.equal(reply.headers['x-switchyard-waf-rule'], 'cidr-deny');
      }
    }
    assert.equal(origins.seen.length, before);
  });
});
