// `middleware:` on routes and listeners: entries name a registered filter, and the `headers` filter's
// names and values are checked at load, each refusal with file, line and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from './index.ts';

const config = (middleware: string, action = 'pool: web') => `pools:
  web:
    backends: [ { address: 127.0.0.1:3001 } ]
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    routes:
      - match: { path_prefix: / }
        ${action}
        middleware:
          - ${middleware}
`;

function refused(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseConfigText(text, 'edge.yaml', '/tmp'),
    (err: Error) => {
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test('middleware: a headers entry loads with lower-cased names', () => {
  const loaded = parseConfigText(config('headers: { request: { set: { X-Client: "{client_ip}" }, remove: [X-Internal] }, response: { add: { x-edge: yes } } }'), 'edge.yaml', '/tmp');
  const [entry] = loaded.config.listeners[0].routes![0].middleware!;
  assert.equal(entry.name, 'headers');
  assert.deepEqual(entry.settings, { request: { set: { 'X-Client': '{client_ip}' }, remove: ['x-internal'] }, response: { add: { 'x-edge': 'yes' } } });
});

test('middleware: an unknown filter is refused with the list of known ones', () => {
  refused(config('gzip: {}'), /^edge\.yaml:12:\d+: listeners\[0\]\.routes\[0\]\.middleware\[0\]\.gzip: unknown filter gzip: expected one of headers/);
});

test('middleware: one filter per entry', () => {
  refused(config('{ headers: {}, other: {} }'), /middleware\[0\]: expected one filter per entry \(one of headers(, [a-z_]+)*\), got headers and other/);
});

test('headers: reserved fields, bad names, CR/LF values and unknown placeholders are refused', () => {
  for (const [edit, pattern] of [
    ['{ request: { set: { Content-Length: "1" } } }', /headers\.request\.set\.Content-Length: expected a header the edge does not own, got content-length/],
    ['{ request: { remove: [host] } }', /headers\.request\.remove\[0\]: expected a header the edge does not own, got host .*upstream_host/],
    ['{ response: { add: { transfer-encoding: x } } }', /headers\.response\.add\.transfer-encoding: expected a header the edge does not own/],
    ['{ request: { set: { "bad name": x } } }', /headers\.request\.set\.bad name: expected a header name \(token characters\)/],
    ['{ request: { set: { x-a: "a\\r\\nb" } } }', /headers\.request\.set\.x-a: expected a header value without CR, LF or NUL/],
    ['{ request: { set: { x-a: "{cookie}" } } }', /headers\.request\.set\.x-a: expected placeholders among \{client_ip\}, \{request_id\}, \{host\}, \{method\}, \{path\}, \{scheme\}, got \{cookie\}/],
    ['{ request: { sett: {} } }', /headers\.request: .*sett/],
  ] as const) {
    refused(config(`headers: ${edit}`), new RegExp(`^edge\\.yaml:\\d+:\\d+: listeners\\[0\\]\\.routes\\[0\\]\\.middleware\\[0\\]\\.${pattern.source}`));
  }
});

test('middleware: only on a route with a pool', () => {
  refused(config('headers: {}', 'respond: { body: hi }'), /routes\[0\]\.middleware: expected middleware only on a route with a pool/);
});

test('middleware: a listener default loads', () => {
  const text = config('headers: {}').replace('    routes:', '    middleware: [ { headers: { response: { set: { x-edge: a } } } } ]\n    routes:');
  const loaded = parseConfigText(text, 'edge.yaml', '/tmp');
  assert.equal(loaded.config.listeners[0].middleware?.[0].name, 'headers');
});
