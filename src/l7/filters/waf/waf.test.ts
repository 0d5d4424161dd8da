// The waf filter: each built-in set stops its probes (encoded once or twice) and lets ordinary requests
// through; own rules, CIDR lists, detect mode, and the load-time refusal of unsafe patterns.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { middlewareSchemas, regexHazard } from '../../../config/index.ts';
import { filterContext, filterEnv, type RequestShape } from '../../../../test/support/filter-kit.ts';
import type { LocalResponse } from '../types.ts';
import { wafFilter } from './index.ts';
import { percentDecode } from './decode.ts';

const schema = middlewareSchemas.waf;

function verdict(settings: unknown, shape: RequestShape, env = filterEnv()): LocalResponse | undefined {
  const filter = wafFilter.create(schema.parse(settings), env);
  return filter.onRequest!(filterContext(shape)) as LocalResponse | undefined;
}

function ruleOf(answer: LocalResponse | undefined): string | undefined {
  if (answer === undefined) return undefined;
  assert.equal(answer.status, 403);
  return answer.headers[answer.headers.indexOf('x-switchyard-waf-rule') + 1];
}

const probes: [string, RequestShape, string][] = [
  ["' or 1=1", { path: '/login', query: "user=admin'%20or%201=1--" }, 'sqli-tautology'],
  ['OR "a"="a', { path: '/q', query: 'name=x%22+OR+%22a%22%3D%22a' }, 'sqli-tautology'],
  ['1 or 1=1', { path: '/items', query: 'id=1+or+1=1' }, 'sqli-tautology'],
  ['union select', { path: '/items', query: 'id=1%20UNION%20ALL%20SELECT%20password%20FROM%20users' }, 'sqli-union'],
  ['union/**/select', { path: '/items', query: 'id=1/**/union/**/select/**/1' }, 'sqli-union'],
  ['stacked drop', { path: '/items', query: 'id=1;%20DROP%20TABLE%20users' }, 'sqli-stacked'],
  ['sleep probe', { path: '/items', query: 'id=1%20and%20sleep(5)' }, 'sqli-probe'],
  ['<script>', { path: '/search', query: 'q=%3Cscript%3Ealert(1)%3C/script%3E' }, 'xss-script'],
  ['onerror handler', { path: '/search', query: 'q=%3Cimg%20src=x%20onerror=alert(1)%3E' }, 'xss-handler'],
  ['javascript: uri', { path: '/go', query: 'next=javascript:alert(document.cookie)' }, 'xss-uri'],
  ['<svg', { path: '/search', query: 'q=<svg/onload=alert(1)>' }, 'xss-handler'],
  ['script in the path', { path: '/p/<script>x' }, 'xss-script'],
  ['../ in the query', { path: '/download', query: 'file=../../etc/shadow' }, 'traversal-dotdot'],
  ['%2e%2e in the query', { path: '/download', query: 'file=%2e%2e%2f%2e%2e%2fapp.conf' }, 'traversal-encoded'],
  ['..\\ in the query', { path: '/download', query: 'file=..%5c..%5cboot.ini' }, 'traversal-encoded'],
  ['double-encoded in the path', { path: '/static/%252e%252e/%252e%252e/secret' }, 'traversal-encoded'],
  ['/etc/passwd', { path: '/view', query: 'page=/etc/passwd' }, 'traversal-file'],
  ['sqlmap', { path: '/', headers: { 'user-agent': 'sqlmap/1.7.2#stable (https://sqlmap.org)' } }, 'scanner-agent'],
  ['nikto', { path: '/', headers: { 'user-agent': 'Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)' } }, 'scanner-agent'],
  ['nmap', { path: '/', headers: { 'user-agent': 'Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)' } }, 'scanner-agent'],
  ['masscan', { path: '/', headers: { 'user-agent': 'masscan/1.3 (https://github.com/robertdavidgraham/masscan)' } }, 'scanner-agent'],
  ['zgrab', { path: '/', headers: { 'user-agent': 'Mozilla/5.0 zgrab/0.x' } }, 'scanner-agent'],
];

const ordinary: RequestShape[] = [
  { path: '/api/users/42', query: 'fields=name,email&sort=-created_at' },
  { path: '/search', query: 'q=rock+and+roll&page=2' },
  { path: '/search', query: "q=O'Reilly+books+or+magazines" },
  { path: '/search', query: 'q=union+station+select+trains' },
  { path: '/api/orders', query: 'filter=%7B%22status%22%3A%22open%22%2C%22total%22%3A%7B%22gt%22%3A10%7D%7D' },
  { path: '/docs/v1.2/release-notes.html', query: '' },
  { path: '/files/report..final.pdf' },
  { path: '/a/b', query: 'redirect=https%3A%2F%2Fexample.test%2Fhome%3Fx%3D1' },
  { path: '/blog/2024/10/how-to-script-your-deploys', query: 'utm_source=newsletter' },
  { path: '/', headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36' } },
  { path: '/', headers: { 'user-agent': 'curl/8.5.0' } },
  { path: '/math', query: 'expr=1%3C2+and+3%3E2' },
];

describe('waf filter', () => {
  for (const [what, shape, rule] of probes) {
    it(`blocks ${what} as ${rule}`, () => assert.equal(ruleOf(verdict({}, shape)), rule));
  }

  it('lets ordinary requests through', () => {
    for (const shape of ordinary) assert.equal(verdict({}, shape), undefined, JSON.stringify(shape));
  });

  it('runs only the enabled sets', () => {
    assert.equal(verdict({ builtin: ['xss'] }, probes[0][1]), undefined);
    assert.equal(ruleOf(verdict({ builtin: ['xss'] }, probes[7][1])), 'xss-script');
    assert.equal(verdict({ builtin: [] }, probes[16][1]), undefined);
  });

  it('detect mode counts the rule and gives it as the reason, and lets the request through', () => {
    const env = filterEnv();
    const filter = wafFilter.create(schema.parse({ mode: 'detect' }), env);
    const ctx = filterContext(probes[3][1]);
    assert.equal(filter.onRequest!(ctx), undefined);
    assert.deepEqual(ctx.reasons, ['waf:sqli-union']);
    assert.equal(env.counts.get('waf:sqli-union'), 1);
    assert.equal(env.counts.get('waf:detected'), 1);
    assert.equal(env.counts.get('waf:blocked'), undefined);
  });

  it('blocks with counts per rule', () => {
    const env = filterEnv();
    verdict({}, probes[0][1], env);
    assert.equal(env.counts.get('waf:sqli-tautology'), 1);
    assert.equal(env.counts.get('waf:blocked'), 1);
  });

  it('own rules: every condition must hold, in order, and allow skips the rest', () => {
    const settings = {
      rules: [
        { id: 'allow-health', action: 'allow', path: '^/health$' },
        { id: 'no-admin-delete', methods: ['DELETE'], path: '^/admin/' },
        { id: 'no-debug', query: '(^|&)debug=1', headers: { 'X-Env': '^prod' } },
      ],
    };
    assert.equal(ruleOf(verdict(settings, { method: 'DELETE', path: '/admin/users/1' })), 'no-admin-delete');
    assert.equal(verdict(settings, { method: 'GET', path: '/admin/users/1' }), undefined);
    assert.equal(ruleOf(verdict(settings, { query: 'a=2&debug=1', headers: { 'x-env': 'production' } })), 'no-debug');
    assert.equal(verdict(settings, { query: 'debug=1' }), undefined, 'a missing header does not match');
    assert.equal(verdict(settings, { path: '/health', headers: { 'user-agent': 'nikto' } }), undefined, 'allow skips the built-in rules');
  });

  it('CIDR deny wins, then allow admits only its ranges', () => {
    const settings = { deny: ['203.0.113.0/24'], allow: ['192.0.2.0/24', '203.0.113.0/24', '::1'] };
    assert.equal(ruleOf(verdict(settings, { clientAddress: '203.0.113.9' })), 'cidr-deny');
    assert.equal(ruleOf(verdict(settings, { clientAddress: '198.51.100.1' })), 'cidr-allow');
    assert.equal(verdict(settings, { clientAddress: '192.0.2.44' }), undefined);
    assert.equal(verdict(settings, { clientAddress: '::ffff:192.0.2.44' }), undefined);
    assert.equal(verdict(settings, { clientAddress: '::1' }), undefined);
  });

  it('refuses unsafe or invalid patterns and rules without a condition at load', () => {
    assert.throws(() => schema.parse({ rules: [{ id: 'x', path: '(a+)+$' }] }), /nested or overlapping repetition/);
    assert.throws(() => schema.parse({ rules: [{ id: 'x', query: '(a|aa)*' }] }), /nested or overlapping repetition/);
    assert.throws(() => schema.parse({ rules: [{ id: 'x', path: '([' }] }), /expected a regular expression/);
    assert.throws(() => schema.parse({ rules: [{ id: 'x' }] }), /at least one of methods, path, query, headers or body/);
    assert.throws(() => schema.parse({ rules: [{ id: 'x', path: 'a' }, { id: 'x', path: 'b' }] }), /unique rule ids/);
    assert.throws(() => schema.parse({ deny: ['10.0.0.0/33'] }), /expected an address or CIDR/);
    assert.throws(() => schema.parse({ builtin: ['lfi'] }), /sqli/);
  });

  it('the built-in patterns pass the same screen as own ones, and stay fast on hostile input', async () => {
    const { builtinRules } = await import('./builtin-rules.ts');
    for (const rule of builtinRules) assert.equal(regexHazard(rule.pattern.source), undefined, rule.id);
    const filter = wafFilter.create(schema.parse({}), filterEnv());
    const hostile = ["'or" + ' '.repeat(8000), 'union' + ' '.repeat(8000), '<a' + ' a'.repeat(4000), '%25'.repeat(2600), '..'.repeat(4000)];
    for (const query of hostile) {
      const started = performance.now();
      filter.onRequest!(filterContext({ path: '/x', query }));
      assert.ok(performance.now() - started < 50, `slow on ${query.slice(0, 12)}…: ${performance.now() - started} ms`);
    }
  });

  describe('body inspection', () => {
    const form = (text: string): RequestShape => ({ method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(text, 'latin1') });
    const json = (text: string, type = 'application/json'): RequestShape => ({ method: 'POST', path: '/api/items', headers: { 'content-type': type }, body: Buffer.from(text, 'latin1') });
    const on = { body: {} };

    it('is off by default: the body is not read and not matched', () => {
      const filter = wafFilter.create(schema.parse({}), filterEnv());
      assert.equal(filter.readsBody, 0);
      assert.equal(verdict({}, form("user=admin'+or+1=1--")), undefined);
      assert.equal(wafFilter.create(schema.parse(on), filterEnv()).readsBody, 8192);
      assert.equal(wafFilter.create(schema.parse({ body: { inspect_size: '2kb' } }), filterEnv()).readsBody, 2048);
    });

    it('blocks sqli and xss in a form body (decoded once) and in a JSON body, with body- rule ids', () => {
      assert.equal(ruleOf(verdict(on, form("user=admin'+or+1=1--&password=x"))), 'body-sqli-tautology');
      assert.equal(ruleOf(verdict(on, form('user=admin%27%20OR%20%271%27%3D%271&password=x'))), 'body-sqli-tautology');
      assert.equal(ruleOf(verdict(on, form('id=1+UNION+ALL+SELECT+password+FROM+users'))), 'body-sqli-union');
      assert.equal(ruleOf(verdict(on, form('comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E'))), 'body-xss-script');
      assert.equal(ruleOf(verdict(on, json(`{"user":"admin' or '1'='1","password":"x"}`))), 'body-sqli-tautology');
      assert.equal(ruleOf(verdict(on, json(`{"q":"x\\" OR \\"a\\"=\\"a"}`))), 'body-sqli-tautology');
      assert.equal(ruleOf(verdict(on, json(`{"id":"1; DROP TABLE users"}`))), 'body-sqli-stacked');
      assert.equal(ruleOf(verdict(on, json(`{"bio":"<img src=x onerror=alert(1)>"}`, 'application/merge-patch+json; charset=utf-8'))), 'body-xss-handler');
    });

    it('lets ordinary form and JSON bodies through: quotes that are JSON structure are not string breaks', () => {
      const benign = [
        form('user=alice&password=correct+horse+battery+staple'),
        form("q=O'Reilly+books+or+magazines&sort=-date"),
        json('{"name":"O\'Reilly","color":"#fff","flag":"--verbose","note":"orange is the new black","os":"android is fine"}'),
        json('{"order":"desc","and":1,"or":[1,2],"query":{"status":"open","total":{"gt":10}},"path":"/*.js"}'),
        json('[{"title":"Union Station: select trains"},{"title":"how to script your deploys"}]'),
      ];
      for (const shape of benign) assert.equal(verdict(on, shape), undefined, shape.body!.toString());
    });

    it('applies the built-in sets to form and JSON only; own body rules see every body', () => {
      const settings = { body: {}, rules: [{ id: 'no-eicar', body: 'EICAR-STANDARD' }] };
      assert.equal(verdict(settings, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: Buffer.from("' or 1=1--") }), undefined);
      assert.equal(ruleOf(verdict(settings, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!') })), 'no-eicar');
      assert.equal(verdict(settings, { method: 'GET', path: '/x' }), undefined, 'no body: a body rule does not match');
    });

    it('matches only the first inspect_size bytes', () => {
      const padded = 'pad=' + 'a'.repeat(100) + "&user=admin'+or+1=1--";
      assert.equal(verdict({ body: { inspect_size: '64b' } }, form(padded)), undefined);
      assert.equal(ruleOf(verdict({ body: { inspect_size: '1kb' } }, form(padded))), 'body-sqli-tautology');
    });

    it('refuses a body with a Content-Encoding (its bytes cannot be matched)', () => {
      const shape = { ...json('{"a":1}'), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } };
      assert.equal(ruleOf(verdict(on, shape)), 'body-encoded');
      assert.equal(verdict(on, { ...shape, headers: { 'content-type': 'application/json', 'content-encoding': 'identity' } }), undefined);
    });

    it('gives the body rule as the reason and counts it, in detect mode too', () => {
      const env = filterEnv();
      const filter = wafFilter.create(schema.parse({ ...on, mode: 'detect' }), env);
      const ctx = filterContext(form('id=1+union+select+1'));
      assert.equal(filter.onRequest!(ctx), undefined);
      assert.deepEqual(ctx.reasons, ['waf:body-sqli-union']);
      assert.equal(env.counts.get('waf:body-sqli-union'), 1);
    });

    it('refuses body rules without body inspection, and an inspect_size out of range', () => {
      assert.throws(() => schema.parse({ rules: [{ id: 'x', body: 'evil' }] }), /expected waf\.body/);
      assert.throws(() => schema.parse({ body: { inspect_size: '128kb' } }), /inspect_size from 1b to 64kb/);
      assert.throws(() => schema.parse({ body: { inspect_size: '0b' } }), /inspect_size from 1b to 64kb/);
      assert.throws(() => schema.parse({ body: { max: '8kb' } }), /max/);
      assert.throws(() => schema.parse({ body: {}, rules: [{ id: 'x', body: '(a+)+' }] }), /nested or overlapping repetition/);
    });

    it('stays fast on a hostile 64kb body', async () => {
      const { builtinRules } = await import('./builtin-rules.ts');
      for (const rule of builtinRules) if (rule.json !== undefined) assert.equal(regexHazard(rule.json.source), undefined, `${rule.id} (json)`);
      const filter = wafFilter.create(schema.parse({ body: { inspect_size: '64kb' } }), filterEnv());
      const hostile = ["'or" + ' '.repeat(65_000), '<a' + ' a'.repeat(32_000), '%25'.repeat(21_000), '\\"or' + ' '.repeat(65_000), 'union' + '/'.repeat(65_000)];
      for (const text of hostile) {
        for (const type of ['application/x-www-form-urlencoded', 'application/json']) {
          const started = performance.now();
          filter.onRequest!(filterContext({ method: 'POST', headers: { 'content-type': type }, body: Buffer.from(text) }));
          assert.ok(performance.now() - started < 100, `slow on ${type} ${text.slice(0, 12)}…: ${performance.now() - started} ms`);
        }
      }
    });
  });

  it('percent-decodes leniently and allocates nothing when there is nothing to decode', () => {
    const plain = '/api/users';
    assert.equal(percentDecode(plain, false), plain);
    assert.equal(percentDecode('a%2e%2E%zz+b', false), 'a..%zz+b');
    assert.equal(percentDecode('a+b%20c', true), 'a b c');
  });
});
