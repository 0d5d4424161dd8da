// Fixed responses (`respond` routes): the edge frames the body and types it from content_type, so a
// `headers` entry that would contradict it is refused at load with file, line and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from './index.ts';

const config = (headers: string) => `listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    routes:
      - match: { path_prefix: / }
        respond:
          body: hi
          headers: ${headers}
`;

test('respond headers: other fields are accepted as configured', () => {
  const loaded = parseConfigText(config('{ X-Fixed: yes, Cache-Control: no-store }'), 'edge.yaml', '/tmp');
  assert.deepEqual(loaded.config.listeners[0].routes?.[0].respond?.headers, { 'X-Fixed': 'yes', 'Cache-Control': 'no-store' });
});

test('respond headers: content-type, content-length, transfer-encoding and connection are refused', () => {
  for (const [field, why] of [
    ['Content-Type', /set content_type instead/],
    ['content-length', /the length of body is sent/],
    ['Transfer-Encoding', /the length of body is sent/],
    ['Connection', /connection handling/],
  ] as const) {
    assert.throws(
      () => parseConfigText(config(`{ X-Ok: yes, ${field}: x }`), 'edge.yaml', '/tmp'),
      (err: Error) => {
        assert.match(err.message, new RegExp(`^edge\\.yaml:9:\\d+: listeners\\[0\\]\\.routes\\[0\\]\\.respond\\.headers\\.${field}: expected a header the edge does not set itself`));
        assert.match(err.message, why);
        return true;
      },
    );
  }
});
